"""The staff dashboard: renders in flight, unknown outcomes, failures, spend (settled, and possibly billed per key),
each key's health and headroom, storage."""

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from providers.models import ApiKey
from quotas import charts
from quotas.models import cents_to_usd
from renders import unknown_outcomes
from renders.models import Render
from renders.states import IN_FLIGHT
from staff import stats
from staff.access import staff_only
from staff.health import key_health

DAYS = 30


@login_required
@staff_only
@require_GET
def dashboard(request):
    days = charts.days_ending(charts.today(), DAYS)
    since = timezone.now() - timedelta(days=DAYS)
    site, spend = stats.spend_per_day(days)
    storage = stats.storage_by_project()
    possibly_billed = stats.possibly_billed_by_key()
    spend["key"] = stats.with_possibly_billed(spend["key"], possibly_billed)
    return render(request, "staff/dashboard.html", {
        "in_flight": stats.in_flight_by_state(),
        "in_flight_total": Render.objects.filter(status__in=IN_FLIGHT).count(),
        "failures": stats.failures_by_reason(since),
        "waiting_for_a_job": unknown_outcomes.waiting_for_a_job().count(),
        "open_incidents": sum(row["count"] for row in possibly_billed.values()),
        "possibly_billed": cents_to_usd(sum(row["cents"] for row in possibly_billed.values())),
        "spend_chart": site,
        "spend": spend,
        "keys": [key_health(key) for key in ApiKey.objects.prefetch_related("projects").order_by("name")],
        "storage": storage,
        "storage_total": sum(row["bytes"] for row in storage),
        "days": DAYS,
    })
