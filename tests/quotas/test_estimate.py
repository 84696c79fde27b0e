from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from quotas import services
from quotas.models import ProjectBudget

pytestmark = [pytest.mark.django_db, pytest.mark.project(name="Launch film")]


def test_it_prices_the_render_and_shows_every_limit(alice, project, reserve_render, allowance):
    allowance(alice, monthly_seconds=60, monthly_spend_usd=Decimal("10.00"), concurrent_renders=2)
    ProjectBudget.objects.create(project=project, monthly_budget_usd=Decimal("20.00"))
    render = reserve_render(alice, seconds=8)
    render.delivered_seconds = Decimal("8")
    services.settle(render)
    reserve_render(alice, seconds=4)

    est = services.estimate(alice, project, model="sora-2-pro", size="1792x1024", seconds=12)
    assert (est.price_per_second_usd, est.cost_usd) == (Decimal("0.50"), Decimal("6.00"))
    assert est.resets_at == services.resets_at(services.month_of())
    seconds = est.limit("monthly_seconds")
    assert (seconds.limit, seconds.used, seconds.reserved, seconds.remaining, seconds.needed) == (
        60, Decimal("8.0"), Decimal("4.0"), Decimal("48.0"), Decimal("12.0"))
    spend = est.limit("monthly_spend")
    assert (spend.limit, spend.used, spend.reserved, spend.remaining) == (
        Decimal("10.00"), Decimal("0.80"), Decimal("0.40"), Decimal("8.80"))
    slots = est.limit("concurrent_renders")
    assert (slots.limit, slots.used, slots.remaining, slots.resets_at) == (2, 1, 1, None)
    budget = est.limit("project_budget")
    assert (budget.limit, budget.remaining) == (Decimal("20.00"), Decimal("18.80"))
    assert est.allowed and est.blocking is None and est.message == ""


def test_it_names_the_limit_a_render_would_break(alice, project, allowance):
    allowance(alice, monthly_spend_usd=Decimal("5.00"))
    est = services.estimate(alice, project, model="sora-2-pro", size="1792x1024", seconds=12)
    assert not est.allowed
    assert est.blocking.code == "monthly_spend"
    assert est.message.startswith("Not enough of your monthly spend left: $5.00 of $5.00 remains")


def test_it_writes_nothing(alice, project):
    with CaptureQueriesContext(connection) as queries:
        services.estimate(alice, project, model="sora-2", size="720x1280", seconds=4)
    assert all(q["sql"].lstrip().upper().startswith("SELECT") for q in queries.captured_queries)


def test_a_limit_that_is_off_has_no_remaining(alice, project, settings):
    settings.QUOTA_DEFAULT_MONTHLY_SECONDS = None
    est = services.estimate(alice, project, model="sora-2", size="720x1280", seconds=12)
    assert est.limit("monthly_seconds").remaining is None
    assert est.limit("monthly_seconds").ok
    assert est.limit("project_budget").limit is None


def test_usage_sums_the_ledger_per_project(alice, bob, project, reserve_render):
    from projects.models import Project

    other = Project.objects.create(name="B-roll", created_by=alice)
    done = reserve_render(alice, model="sora-2-pro", size="1280x720", seconds=8)
    done.delivered_seconds = Decimal("7.5")
    services.settle(done)
    reserve_render(alice, seconds=4)
    services.refund(reserve_render(alice, in_project=other, seconds=12), "failed")
    reserve_render(alice, in_project=other, seconds=8)
    reserve_render(bob, seconds=12)  # not alice's

    usage = services.usage(alice)
    by_name = {row.project_name: row for row in usage.projects}
    assert list(by_name) == ["B-roll", "Launch film"]
    film, broll = by_name["Launch film"], by_name["B-roll"]
    assert (film.renders, film.seconds_used, film.seconds_reserved) == (2, Decimal("7.5"), Decimal("4.0"))
    assert (film.spend_used_usd, film.spend_reserved_usd) == (Decimal("2.25"), Decimal("0.40"))
    assert (broll.renders, broll.seconds_used, broll.seconds_reserved, broll.spend_reserved_usd) == (
        2, Decimal("0.0"), Decimal("8.0"), Decimal("0.80"))
    assert (usage.total.renders, usage.total.spend_used_usd, usage.total.spend_reserved_usd) == (
        4, Decimal("2.25"), Decimal("1.20"))
    assert usage.limits[0].used == Decimal("7.5") and usage.limits[0].reserved == Decimal("12.0")
    assert usage.limits[2].used == 2  # renders in flight


def test_usage_of_a_month_without_entries_is_zero(alice):
    from datetime import date

    usage = services.usage(alice, date(2025, 1, 17))
    assert usage.month == date(2025, 1, 1)
    assert usage.projects == ()
    assert (usage.total.renders, usage.total.spend_used_usd) == (0, Decimal("0.00"))


def test_a_limit_lowered_below_the_usage_leaves_nothing_never_a_negative(alice, project, reserve_render, allowance):
    allowance(alice, monthly_seconds=8, monthly_spend_usd=Decimal("1.00"))
    reserve_render(alice, seconds=8)
    allowance(alice, monthly_seconds=4, monthly_spend_usd=Decimal("0.50"))
    est = services.estimate(alice, project, model="sora-2", size="1280x720", seconds=4)
    assert est.limit("monthly_seconds").remaining == Decimal("0.0")
    assert est.limit("monthly_spend").remaining == Decimal("0.00")
    assert est.message.startswith("Not enough video seconds left this month: 0 s of your 4 s remain")
    assert [limit.remaining for limit in services.usage(alice).limits] == [Decimal("0.0"), Decimal("0.00"), 2]
