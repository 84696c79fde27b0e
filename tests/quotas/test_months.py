"""Calendar months in the site's time zone; a render counts in the month it was submitted in."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from quotas import services
from quotas.models import ProjectMonth, UserMonth, UserSlots

pytestmark = [pytest.mark.django_db, pytest.mark.project(name="Launch film")]


@pytest.fixture
def clock(monkeypatch, settings):
    settings.TIME_ZONE = "Europe/Paris"
    now = {"at": timezone.now()}
    monkeypatch.setattr("django.utils.timezone.now", lambda: now["at"])

    def set_clock(iso):
        now["at"] = datetime.fromisoformat(iso)

    return set_clock


def test_month_of_follows_the_site_time_zone(clock):
    clock("2026-01-31T23:30:00+00:00")  # already 1 February in Paris
    assert services.month_of() == date(2026, 2, 1)
    assert services.resets_at(date(2026, 2, 1)) == datetime.fromisoformat("2026-03-01T00:00:00+01:00")
    assert services.resets_at(date(2026, 12, 1)) == datetime.fromisoformat("2027-01-01T00:00:00+01:00")
    assert services.resets_at(date(2026, 3, 1)) == datetime.fromisoformat("2026-04-01T00:00:00+02:00")  # DST


def test_a_new_month_starts_afresh(alice, reserve_render, allowance, clock):
    allowance(alice, monthly_seconds=8)
    clock("2026-01-15T12:00:00+00:00")
    services.settle(_delivered(reserve_render(alice, seconds=8), 8))
    with pytest.raises(services.QuotaExceeded, match="It resets on 1 February 2026 at 00:00 CET"):
        reserve_render(alice, seconds=4)
    clock("2026-01-31T23:00:00+00:00")  # midnight in Paris
    reserve_render(alice, seconds=8)
    assert UserMonth.objects.get(user=alice, month=date(2026, 2, 1)).seconds_reserved_ms == 8000


def test_a_render_reserved_in_one_month_and_settled_in_the_next_counts_in_the_first(
        alice, project, reserve_render, allowance, clock):
    allowance(alice, monthly_seconds=12, concurrent_renders=1)
    clock("2026-01-31T22:50:00+00:00")  # 23:50 on 31 January in Paris
    render = reserve_render(alice, model="sora-2-pro", size="1280x720", seconds=12)
    clock("2026-01-31T23:10:00+00:00")  # 00:10 on 1 February: it completes, shorter than asked
    entry = services.settle(_delivered(render, 10))
    assert entry.month == date(2026, 1, 1)
    january = UserMonth.objects.get(user=alice, month=date(2026, 1, 1))
    assert (january.seconds_used_ms, january.seconds_reserved_ms, january.spend_used_cents) == (10000, 0, 300)
    assert ProjectMonth.objects.get(project=project, month=date(2026, 1, 1)).spend_used_cents == 300
    assert not UserMonth.objects.filter(month=date(2026, 2, 1)).exists()
    # February's allowance is whole, and the slot held across midnight is free again
    assert services.usage(alice).total.seconds_used == 0
    assert services.usage(alice, date(2026, 1, 1)).total.spend_used_usd == Decimal("3.00")
    assert UserSlots.objects.get(user=alice).in_flight == 0
    reserve_render(alice, seconds=12)
    call_command("check_quotas")


def test_a_refund_in_the_next_month_releases_the_first_month(alice, reserve_render, clock):
    clock("2026-03-31T21:59:00+00:00")  # 23:59 in Paris (summer time)
    render = reserve_render(alice, seconds=8)
    clock("2026-03-31T22:01:00+00:00")  # 00:01 on 1 April
    assert services.estimate(alice, None, model="sora-2", size="1280x720", seconds=4).limit(
        "concurrent_renders").used == 1  # a render in flight holds its slot across the month
    services.refund(render, services.RefundReason.NO_USABLE_KEY)
    march = UserMonth.objects.get(user=alice, month=date(2026, 3, 1))
    assert (march.seconds_reserved_ms, march.spend_reserved_cents, march.seconds_used_ms) == (0, 0, 0)
    assert not UserMonth.objects.filter(month=date(2026, 4, 1)).exists()
    call_command("check_quotas")


def _delivered(render, seconds):
    render.delivered_seconds = Decimal(seconds)
    render.save(update_fields=["delivered_seconds"])
    return render
