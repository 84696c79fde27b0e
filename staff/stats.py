"""The staff dashboard's numbers: where the renders are, why they fail, where the money goes (per day, by user,
project and key, over 30 days; per key also what the provider may have billed for renders that got nothing), and the
storage each project uses."""

from collections import defaultdict

from django.core.files.storage import default_storage
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from projects.models import Project
from providers.models import ApiKey
from quotas import charts
from quotas.models import LedgerEntry, cents_to_usd
from renders.housekeeping import walk
from renders.models import BillingIncident, Render
from renders.states import IN_FLIGHT, Status

# (name of the dimension, ledger field of its id, ledger field of its label)
DIMENSIONS = [
    ("user", "user_id", "user__username"),
    ("project", "project_id", "project__name"),
    ("key", "render__api_key_id", "render__api_key__name"),
]


def in_flight_by_state():
    counts = dict(Render.objects.filter(status__in=IN_FLIGHT).values_list("status").annotate(n=Count("pk")))
    return [{"status": status, "label": status.label, "count": counts.get(status.value, 0)}
            for status in Status if status in IN_FLIGHT]


def failures_by_reason(since):
    rows = (Render.objects.filter(status=Status.FAILED, updated_at__gte=since).values("error_code")
            .annotate(count=Count("pk"), last=Max("updated_at")).order_by("-count", "error_code"))
    samples = {}
    for row in rows:
        samples[row["error_code"]] = (Render.objects.filter(status=Status.FAILED, error_code=row["error_code"])
                                      .order_by("-updated_at").values_list("error_message", flat=True).first())
    return [{**row, "reason": row["error_code"] or "failed", "example": samples[row["error_code"]] or ""}
            for row in rows]


def spend_per_day(days):
    """For the whole site and per user, project and key: the spend of each day (settled charges, site time)."""
    tz = timezone.get_default_timezone()
    entries = (LedgerEntry.objects.filter(created_at__gte=charts.start_of_day(days[0]), spend_used_cents__gt=0)
               .annotate(day=TruncDate("created_at", tzinfo=tz)))
    index = {day: i for i, day in enumerate(days)}
    totals = [0] * len(days)
    for row in entries.values("day").annotate(cents=Sum("spend_used_cents")):
        if row["day"] in index:
            totals[index[row["day"]]] += row["cents"]
    site = charts.bar_chart(days, [cents_to_usd(c) for c in totals], fmt=charts.fmt_usd, name="spend")
    tables = {}
    for name, id_field, label_field in DIMENSIONS:
        series = defaultdict(lambda: [0] * len(days))
        labels = {}
        for row in entries.values("day", id_field, label_field).annotate(cents=Sum("spend_used_cents")):
            if row["day"] not in index:
                continue
            series[row[id_field]][index[row["day"]]] += row["cents"]
            labels[row[id_field]] = row[label_field] or f"(no {name})"
        rows = []
        for ident, cents in series.items():
            values = [cents_to_usd(c) for c in cents]
            rows.append({"id": ident, "label": labels[ident], "total": cents_to_usd(sum(cents)),
                         "today": values[-1],
                         "spark": charts.sparkline(days, values, fmt=charts.fmt_usd, name=f"spend of {labels[ident]}")})
        tables[name] = sorted(rows, key=lambda r: (-r["total"], r["label"]))
    return site, tables


def possibly_billed_by_key():
    """{key id: {"cents": ..., "count": ...}}: what the provider may have billed for renders that got nothing and
    staff have not reconciled yet (open billing incidents), per key."""
    rows = (BillingIncident.objects.filter(resolved_at__isnull=True).values("api_key_id")
            .annotate(cents=Sum("amount_cents"), count=Count("pk")))
    return {row["api_key_id"]: {"cents": row["cents"], "count": row["count"]} for row in rows}


def with_possibly_billed(key_rows, open_by_key):
    """The spend-by-key rows, each with what its key may have been billed and is not reconciled (`open_by_key`, from
    possibly_billed_by_key), plus a row for each key that has only that."""
    open_by_key = dict(open_by_key)
    rows = [{**row, "possibly_billed": cents_to_usd(open_by_key.pop(row["id"], {}).get("cents", 0))}
            for row in key_rows]
    for key_id, name in ApiKey.objects.filter(pk__in=open_by_key).values_list("pk", "name"):
        rows.append({"id": key_id, "label": name, "total": cents_to_usd(0), "today": cents_to_usd(0), "spark": None,
                     "possibly_billed": cents_to_usd(open_by_key[key_id]["cents"])})
    return rows


def key_spend(key, since):
    """One key's money since `since`: settled charges (the ledger); and for renders that got nothing, what the
    provider may have billed (open incidents, whenever opened) and what staff found billed when reconciling."""
    settled = LedgerEntry.objects.filter(render__api_key=key, created_at__gte=since).aggregate(
        cents=Sum("spend_used_cents", default=0))["cents"]
    incidents = key.billing_incidents.aggregate(
        open_cents=Sum("amount_cents", filter=Q(resolved_at__isnull=True), default=0),
        open_count=Count("pk", filter=Q(resolved_at__isnull=True)),
        billed_cents=Sum("amount_cents", filter=Q(billed=True, resolved_at__gte=since), default=0))
    return {"settled": cents_to_usd(settled), "possibly_billed": cents_to_usd(incidents["open_cents"]),
            "open_incidents": incidents["open_count"], "found_billed": cents_to_usd(incidents["billed_cents"])}


def storage_by_project(storage=None):
    """Bytes stored under renders/<project_id>/ per project (orphans included: what the disk really holds)."""
    storage = storage or default_storage
    sizes, files = defaultdict(int), defaultdict(int)
    for name in walk(storage):
        parts = name.split("/")
        project_id = int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else None
        try:
            sizes[project_id] += storage.size(name)
        except FileNotFoundError:  # removed while we walked
            continue
        files[project_id] += 1
    names = dict(Project.objects.filter(pk__in=[p for p in sizes if p]).values_list("pk", "name"))
    rows = [{"project_id": pk, "name": names.get(pk, "(deleted project)" if pk else "(outside any project)"),
             "bytes": size, "files": files[pk]} for pk, size in sizes.items()]
    return sorted(rows, key=lambda r: -r["bytes"])
