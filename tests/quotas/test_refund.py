from decimal import Decimal

import pytest

from quotas import services
from quotas.models import LedgerEntry, ProjectMonth, Reservation, UserMonth, UserSlots
from quotas.services import RefundReason

pytestmark = [pytest.mark.django_db, pytest.mark.project(name="Launch film")]

REASONS = [RefundReason.FAILED, RefundReason.MODERATION, RefundReason.REJECTED, RefundReason.CANCELED,
           RefundReason.NO_USABLE_KEY]


@pytest.mark.parametrize("reason", REASONS)
def test_it_refunds_everything_and_frees_the_slot(alice, project, reserve_render, reason):
    render = reserve_render(alice, model="sora-2-pro", size="1792x1024", seconds=12)
    entry = services.refund(render, reason)
    um = UserMonth.objects.get(user=alice)
    assert (um.seconds_used_ms, um.seconds_reserved_ms, um.spend_used_cents, um.spend_reserved_cents) == (0, 0, 0, 0)
    pm = ProjectMonth.objects.get(project=project)
    assert (pm.seconds_used_ms, pm.seconds_reserved_ms, pm.spend_used_cents, pm.spend_reserved_cents) == (0, 0, 0, 0)
    assert UserSlots.objects.get(user=alice).in_flight == 0
    assert (entry.kind, entry.reason, entry.spend_reserved_cents, entry.spend_used_cents) == ("refund", reason, -600, 0)
    assert Reservation.objects.get(render=render).state == "refunded"
    render.refresh_from_db()
    assert render.charged_usd == Decimal("0")
    assert render.cost_estimate_usd == Decimal("6.00")  # what it would have cost stays on the render


def test_a_refund_gives_the_allowance_back(alice, reserve_render, allowance):
    allowance(alice, monthly_seconds=8, concurrent_renders=1)
    render = reserve_render(alice, seconds=8)
    with pytest.raises(services.QuotaExceeded):
        reserve_render(alice, seconds=8)
    services.refund(render, RefundReason.MODERATION)
    reserve_render(alice, seconds=8)


def test_a_second_refund_and_a_late_settle_are_no_ops(alice, reserve_render):
    render = reserve_render(alice)
    services.refund(render, RefundReason.FAILED)
    assert services.refund(render, RefundReason.FAILED) is None
    render.delivered_seconds = Decimal("4")
    assert services.settle(render) is None
    assert LedgerEntry.objects.filter(render=render).count() == 2
    um = UserMonth.objects.get(user=alice)
    assert (um.seconds_used_ms, um.spend_used_cents, um.spend_reserved_cents) == (0, 0, 0)
    assert UserSlots.objects.get(user=alice).in_flight == 0
