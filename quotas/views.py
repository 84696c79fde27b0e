"""“My usage”: this month's seconds and spend (used, reserved, remaining) per project, and the last 30 days."""

from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from projects.models import Project
from quotas import charts, services
from quotas.charts import fmt_seconds, fmt_usd
from quotas.models import LedgerEntry, ProjectMonth, cents_to_usd, ms_to_seconds


def daily(entries, days, field):
    """{day: sum of `field`} over `entries`, by calendar day in the site's time zone."""
    tz = timezone.get_default_timezone()
    rows = (entries.filter(created_at__gte=charts.start_of_day(days[0]))
            .annotate(day=TruncDate("created_at", tzinfo=tz)).values("day").annotate(total=Sum(field)))
    return {row["day"]: row["total"] or 0 for row in rows}


def budget_left(project_id, month):
    """(budget, remaining) of a project's monthly budget in USD, or (None, None) when it has none."""
    project = Project(pk=project_id)
    budget = services.project_budget(project)
    if budget is None:
        return None, None
    counters = ProjectMonth.objects.filter(project_id=project_id, month=month).first()
    spent = cents_to_usd(counters.spend_used_cents + counters.spend_reserved_cents) if counters else Decimal(0)
    return budget, max(Decimal(budget) - spent, Decimal(0))


def limit_card(status):
    """A LimitStatus in words, for a card: used, reserved, remaining, the limit, and a bar (used + reserved)."""
    limit = status.limit
    return {
        "code": status.code, "label": status.label, "unit": status.unit,
        "used": status.fmt(status.used), "reserved": status.fmt(status.reserved),
        "remaining": None if limit is None else status.fmt(status.remaining),
        "limit": None if limit is None else status.fmt(limit),
        # <progress> needs numbers: the bar shows used + reserved against the limit
        "max": None if limit is None else float(limit),
        "value": float(min(status.used + status.reserved, limit)) if limit is not None else None,
        "over": limit is not None and status.remaining == 0,
    }


@login_required
@require_GET
def usage(request):
    summary = services.usage(request.user)
    rows = []
    for project in summary.projects:
        budget, left = budget_left(project.project_id, summary.month)
        rows.append({"usage": project, "budget": budget, "budget_left": left})
    days = charts.days_ending(charts.today())
    mine = LedgerEntry.objects.filter(user=request.user)
    spend = daily(mine, days, "spend_used_cents")
    seconds = daily(mine, days, "seconds_used_ms")
    values = [cents_to_usd(spend.get(day, 0)) for day in days]
    titles = [f"{day:%-d %b}: {fmt_usd(values[i])}, {fmt_seconds(ms_to_seconds(seconds.get(day, 0)))}"
              for i, day in enumerate(days)]
    chart = charts.bar_chart(days, values, fmt=fmt_usd, titles=titles, name="spend")
    table = [{"day": day, "spend": values[i], "seconds": ms_to_seconds(seconds.get(day, 0))}
             for i, day in enumerate(days)]
    return render(request, "quotas/usage.html", {
        "summary": summary,
        "cards": [limit_card(limit) for limit in summary.limits],
        "rows": rows,
        "chart": chart,
        "days": table,
        "seconds_30d": ms_to_seconds(sum(seconds.values())),
    })
