"""The staff dashboard: renders in flight, failures, spend, each key's health and headroom, storage."""

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from providers.models import ApiKey
from quotas import charts
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
    return render(request, "staff/dashboard.html", {
        "in_flight": stats.in_flight_by_state(),
        "in_flight_total": Render.objects.filter(status__in=IN_FLIGHT).count(),
        "failures": stats.failures_by_reason(since),
        "spend_chart": site,
        "spend": spend,
        "keys": [key_health(key) for key in ApiKey.objects.prefetch_related("projects").order_by("name")],
        "storage": storage,
        "storage_total": sum(row["bytes"] for row in storage),
        "days": DAYS,
    })
