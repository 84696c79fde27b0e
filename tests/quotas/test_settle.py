from decimal import Decimal

import pytest

from quotas import services
from quotas.models import LedgerEntry, ProjectMonth, Reservation, UserMonth, UserSlots

pytestmark = [pytest.mark.django_db, pytest.mark.project(name="Launch film")]


def finish(render, delivered):
    render.delivered_seconds = Decimal(str(delivered))
    render.save(update_fields=["delivered_seconds"])
    return services.settle(render)


def user_month(user):
    return UserMonth.objects.get(user=user, month=services.month_of())


def test_it_charges_the_delivered_seconds_of_a_short_clip(alice, project, reserve_render):
    render = reserve_render(alice, model="sora-2-pro", size="1280x720", seconds=8)  # reserved 8 s, $2.40
    entry = finish(render, 5.04)  # the provider delivered a short clip
    um = user_month(alice)
    assert (um.seconds_used_ms, um.seconds_reserved_ms) == (5000, 0)
    assert (um.spend_used_cents, um.spend_reserved_cents) == (150, 0)
    pm = ProjectMonth.objects.get(project=project)
    assert (pm.seconds_used_ms, pm.seconds_reserved_ms, pm.spend_used_cents, pm.spend_reserved_cents) == (
        5000, 0, 150, 0)
    assert UserSlots.objects.get(user=alice).in_flight == 0
    assert (entry.kind, entry.seconds_used_ms, entry.seconds_reserved_ms) == ("settle", 5000, -8000)
    assert (entry.spend_used_cents, entry.spend_reserved_cents, entry.slots) == (150, -240, -1)
    assert entry.reason == "delivered 5.04 s of 8 s"
    render.refresh_from_db()
    assert render.charged_usd == Decimal("1.50")
    assert Reservation.objects.get(render=render).state == "settled"


@pytest.mark.parametrize(("delivered", "charged_ms", "charged_cents"), [
    (4.0, 4000, 40),
    (3.96, 4000, 40),     # container rounding of a full clip: the full 4 s
    (4.3, 4000, 40),      # never more than reserved
    (2.45, 2500, 25),     # half up to the tenth
    (2.449, 2400, 24),
    (0, 0, 0),
])
def test_it_rounds_the_delivered_seconds_to_the_tenth_within_the_reservation(
        alice, reserve_render, delivered, charged_ms, charged_cents):
    render = reserve_render(alice, seconds=4)
    entry = finish(render, delivered)
    assert (entry.seconds_used_ms, entry.spend_used_cents) == (charged_ms, charged_cents)
    assert (user_month(alice).seconds_used_ms, user_month(alice).spend_used_cents) == (charged_ms, charged_cents)


def test_the_money_rounds_half_up_to_the_cent(alice, reserve_render, settings):
    settings.QUOTA_PRICES = {"sora-2": {"1280x720": Decimal("0.125")}}
    render = reserve_render(alice, seconds=4)  # 4 s x $0.125 = $0.50
    entry = finish(render, 3.5)  # 3.5 s x $0.125 = $0.4375 -> $0.44
    assert entry.spend_used_cents == 44
    render.refresh_from_db()
    assert render.charged_usd == Decimal("0.44")


def test_it_charges_the_price_of_the_reservation(alice, reserve_render, settings):
    render = reserve_render(alice, seconds=4)
    settings.QUOTA_PRICES = {"sora-2": {"1280x720": Decimal("1.00")}}  # a price change while it renders
    finish(render, 4)
    render.refresh_from_db()
    assert render.charged_usd == Decimal("0.40")


def test_a_rerun_is_a_no_op(alice, reserve_render):
    render = reserve_render(alice, seconds=8)
    assert finish(render, 8) is not None
    assert services.settle(render) is None
    assert services.refund(render, "failed") is None
    um = user_month(alice)
    assert (um.seconds_used_ms, um.spend_used_cents, um.spend_reserved_cents) == (8000, 80, 0)
    assert UserSlots.objects.get(user=alice).in_flight == 0
    assert list(LedgerEntry.objects.filter(render=render).values_list("kind", flat=True).order_by("id")) == [
        "reserve", "settle"]
    render.refresh_from_db()
    assert render.charged_usd == Decimal("0.80")


def test_it_needs_the_delivered_duration(alice, reserve_render):
    render = reserve_render(alice)
    with pytest.raises(ValueError, match="no delivered duration"):
        services.settle(render)
    # nothing moved: the reservation is still held and can be settled once the duration is known
    assert Reservation.objects.get(render=render).state == "held"
    assert user_month(alice).seconds_reserved_ms == 4000
    assert finish(render, 4).seconds_used_ms == 4000


def test_a_render_without_a_reservation_settles_to_nothing(alice, make_render):
    render = make_render(author=alice, prompt="A lighthouse at dusk", size="1280x720")
    render.delivered_seconds = Decimal("4")
    assert services.settle(render) is None
    assert not LedgerEntry.objects.exists()
