from datetime import datetime
from decimal import Decimal

import pytest

from quotas import services
from quotas.models import LedgerEntry, ProjectBudget, ProjectMonth, Reservation, UserMonth, UserSlots
from quotas.services import QuotaExceeded

pytestmark = [pytest.mark.django_db, pytest.mark.project(name="Launch film")]


def counters(user):
    month = UserMonth.objects.get(user=user, month=services.month_of())
    return month.seconds_used_ms, month.seconds_reserved_ms, month.spend_used_cents, month.spend_reserved_cents


def test_it_reserves_seconds_money_and_a_slot(alice, project, reserve_render):
    render = reserve_render(alice, model="sora-2-pro", size="1792x1024", seconds=8)
    assert counters(alice) == (0, 8000, 0, 400)
    assert UserSlots.objects.get(user=alice).in_flight == 1
    pm = ProjectMonth.objects.get(project=project)
    assert (pm.seconds_reserved_ms, pm.spend_reserved_cents, pm.spend_used_cents) == (8000, 400, 0)
    reservation = Reservation.objects.get(render=render)
    assert (reservation.state, reservation.seconds_ms, reservation.cents) == ("held", 8000, 400)
    assert reservation.price_per_second_usd == Decimal("0.50")
    entry = LedgerEntry.objects.get(render=render)
    assert (entry.kind, entry.seconds_reserved_ms, entry.spend_reserved_cents, entry.slots) == ("reserve", 8000, 400, 1)
    render.refresh_from_db()
    assert render.cost_estimate_usd == Decimal("4.00")


def test_it_refuses_when_the_monthly_seconds_run_out(alice, reserve_render, allowance):
    allowance(alice, monthly_seconds=10)
    reserve_render(alice, seconds=8)
    with pytest.raises(QuotaExceeded) as refused:
        reserve_render(alice, seconds=4)
    assert refused.value.limit.code == "monthly_seconds"
    assert refused.value.limit.remaining == Decimal("2.0")
    month = services.month_of()
    reset = services.resets_at(month)
    assert str(refused.value) == (
        "Not enough video seconds left this month: 2 s of your 10 s remain and this render needs 4 s."
        f" It resets on 1 {reset:%B %Y} at 00:00 UTC.")
    # the refusal wrote nothing: one render, one ledger entry, the counters of the first render only
    assert counters(alice) == (0, 8000, 0, 80)
    assert LedgerEntry.objects.count() == Reservation.objects.count() == 1
    assert UserSlots.objects.get(user=alice).in_flight == 1


def test_it_refuses_when_the_monthly_spend_runs_out(alice, reserve_render, allowance):
    allowance(alice, monthly_spend_usd=Decimal("5.00"))
    reserve_render(alice, model="sora-2-pro", size="1024x1792", seconds=8)  # $4.00
    with pytest.raises(QuotaExceeded, match=r"\$1.00 of \$5.00 remains and this render costs \$1.20") as refused:
        reserve_render(alice, model="sora-2-pro", size="1280x720", seconds=4)  # $1.20
    assert refused.value.limit.code == "monthly_spend"
    reserve_render(alice, model="sora-2", size="1280x720", seconds=8)  # $0.80 still fits
    assert counters(alice) == (0, 16000, 0, 480)


def test_it_refuses_at_the_concurrent_renders_cap(alice, reserve_render, allowance):
    allowance(alice, concurrent_renders=2)
    first = reserve_render(alice)
    reserve_render(alice)
    with pytest.raises(QuotaExceeded) as refused:
        reserve_render(alice)
    assert refused.value.limit.code == "concurrent_renders"
    assert str(refused.value) == ("You already have 2 renders in flight, the most you may run at once (2)."
                                  " Submit again when one of them finishes.")
    # a refusal by the slot cap undoes the seconds and money the same call had already reserved
    assert counters(alice) == (0, 8000, 0, 80)
    services.refund(first, services.RefundReason.CANCELED)
    reserve_render(alice)
    assert UserSlots.objects.get(user=alice).in_flight == 2


def test_it_refuses_over_a_project_budget_that_members_share(alice, bob, project, reserve_render):
    ProjectBudget.objects.create(project=project, monthly_budget_usd=Decimal("1.00"))
    reserve_render(alice, seconds=8)  # $0.80
    with pytest.raises(QuotaExceeded) as refused:
        reserve_render(bob, seconds=4)  # $0.40 > $0.20 left
    assert refused.value.limit.code == "project_budget"
    assert "project “Launch film”" in str(refused.value)
    assert "$0.20 of $1.00 remains and this render costs $0.40" in str(refused.value)
    # bob's own counters were rolled back with the refusal
    assert not UserMonth.objects.filter(user=bob, spend_reserved_cents__gt=0).exists()
    assert UserSlots.objects.filter(user=bob, in_flight__gt=0).count() == 0


def test_the_site_default_project_budget_applies_without_a_row(alice, reserve_render, settings):
    settings.QUOTA_DEFAULT_PROJECT_BUDGET_USD = Decimal("0.50")
    reserve_render(alice, seconds=4)
    with pytest.raises(QuotaExceeded, match="budget of project"):
        reserve_render(alice, seconds=4)


def test_an_empty_override_means_the_default_and_a_set_one_wins(alice, bob, reserve_render, allowance, settings):
    settings.QUOTA_DEFAULT_MONTHLY_SECONDS = 4
    allowance(alice, monthly_seconds=None, monthly_spend_usd=Decimal("100.00"))
    allowance(bob, monthly_seconds=12)
    reserve_render(alice, seconds=4)
    with pytest.raises(QuotaExceeded, match="0 s of your 4 s remain"):
        reserve_render(alice, seconds=4)
    reserve_render(bob, seconds=12)


def test_a_limit_set_to_none_is_no_limit(alice, reserve_render, settings):
    settings.QUOTA_DEFAULT_MONTHLY_SECONDS = None
    settings.QUOTA_DEFAULT_MONTHLY_SPEND_USD = None
    settings.QUOTA_DEFAULT_CONCURRENT_RENDERS = None
    for _ in range(5):
        reserve_render(alice, model="sora-2-pro", size="1792x1024", seconds=12)
    assert counters(alice) == (0, 60000, 0, 3000)
    assert UserSlots.objects.get(user=alice).in_flight == 5


def test_reserving_the_same_render_twice_changes_nothing(alice, reserve_render):
    render = reserve_render(alice)
    again = services.reserve(render)
    assert again == Reservation.objects.get(render=render)
    assert counters(alice) == (0, 4000, 0, 40)
    assert LedgerEntry.objects.count() == 1


def test_a_refused_submit_leaves_no_render(alice, reserve_render, allowance):
    from renders.models import Render

    allowance(alice, monthly_seconds=4)
    reserve_render(alice, seconds=4)
    with pytest.raises(QuotaExceeded):
        reserve_render(alice, seconds=4)
    assert Render.objects.count() == 1


def test_the_reset_time_follows_the_site_time_zone(alice, reserve_render, allowance, settings, monkeypatch):
    settings.TIME_ZONE = "America/New_York"
    # 03:00 UTC on 1 March is still 28 February in New York: the February allowance applies
    monkeypatch.setattr("django.utils.timezone.now",
                        lambda: datetime.fromisoformat("2026-03-01T03:00:00+00:00"))
    allowance(alice, monthly_seconds=4)
    reserve_render(alice, seconds=4)
    with pytest.raises(QuotaExceeded, match="It resets on 1 March 2026 at 00:00 EST") as refused:
        reserve_render(alice, seconds=4)
    assert refused.value.limit.resets_at == datetime.fromisoformat("2026-03-01T05:00:00+00:00")
    assert UserMonth.objects.get(user=alice).month.isoformat() == "2026-02-01"
