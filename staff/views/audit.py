"""The audit log: who changed which provider key, allowance, budget or project role, adopted a job for a render or
reconciled what a provider may have billed, and when."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from providers.models import AuditEntry
from staff.access import staff_only

TARGET_TYPES = ["key", "allowance", "budget", "role", "render"]  # render: a job adopted, a bill reconciled


@login_required
@staff_only
@require_GET
def audit_log(request):
    entries = AuditEntry.objects.select_related("actor")
    kind = request.GET.get("type", "")
    if kind in TARGET_TYPES:
        entries = entries.filter(target_type=kind)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(request, "staff/audit_log.html", {"page": page, "type": kind, "types": TARGET_TYPES})
