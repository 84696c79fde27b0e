"""Unknown outcomes: renders whose create was sent and never answered. Staff adopt the job of one that still waits
by entering the provider's job id, and reconcile the billing incident of one that failed (renders.unknown_outcomes
does the work)."""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from quotas.models import cents_to_usd
from renders import unknown_outcomes
from renders.models import BillingIncident, Render
from staff.access import staff_only

RECENTLY_RESOLVED = 20


class AdoptForm(forms.Form):
    video_id = forms.CharField(label="Job id", max_length=unknown_outcomes.VIDEO_ID_MAX,
                               widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))


class ResolveForm(forms.Form):
    billed = forms.TypedChoiceField(label="The provider", choices=[("yes", "billed it"), ("no", "did not bill it")],
                                    coerce=lambda value: value == "yes", widget=forms.RadioSelect)
    note = forms.CharField(label="Note", max_length=500, required=False,
                           widget=forms.TextInput(attrs={"placeholder": "e.g. invoice line, support ticket"}))


@login_required
@staff_only
@require_GET
def unknown_outcome_list(request):
    waiting = list(unknown_outcomes.waiting_for_a_job().select_related("api_key", "project", "author")
                   .order_by("create_sent_at"))
    for r in waiting:
        # without a list the render waits for staff until it fails; with one, the reconciler looks for it
        r.fails_at = (r.create_sent_at + timedelta(seconds=settings.RENDER_ADOPT_WAIT_SECONDS)
                      if not r.api_key.has_list_endpoint else None)
    incidents = BillingIncident.objects.select_related("render__project", "api_key", "resolved_by")
    open_incidents = list(incidents.filter(resolved_at__isnull=True).order_by("opened_at"))
    return render(request, "staff/unknown_outcomes.html", {
        "waiting": waiting,
        "open_incidents": open_incidents,
        "open_usd": cents_to_usd(sum(i.amount_cents for i in open_incidents)),
        "resolved": incidents.filter(resolved_at__isnull=False).order_by("-resolved_at")[:RECENTLY_RESOLVED],
        "video_id_max": unknown_outcomes.VIDEO_ID_MAX,
    })


@login_required
@staff_only
@require_POST
def render_adopt(request, render_id):
    waiting = get_object_or_404(Render.objects.select_related("api_key", "remix_of"), pk=render_id)
    form = AdoptForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Render #{waiting.pk}: enter the provider's job id "
                                f"(at most {unknown_outcomes.VIDEO_ID_MAX} characters).")
        return redirect("staff_unknown_outcomes")
    try:
        video = unknown_outcomes.adopt_job_id(waiting, form.cleaned_data["video_id"], request.user)
    except unknown_outcomes.Refused as exc:
        messages.error(request, f"Render #{waiting.pk}: {exc}")
    else:
        messages.success(request, f"Render #{waiting.pk} adopted the job {video.id}; it is tracked from here on.")
    return redirect("staff_unknown_outcomes")


@login_required
@staff_only
@require_POST
def billing_incident_resolve(request, incident_id):
    incident = get_object_or_404(BillingIncident.objects.select_related("api_key"), pk=incident_id)
    form = ResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Render #{incident.render_id}: say whether the provider billed it.")
        return redirect("staff_unknown_outcomes")
    try:
        unknown_outcomes.resolve(incident, request.user, billed=form.cleaned_data["billed"],
                                 note=form.cleaned_data["note"])
    except unknown_outcomes.Refused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Reconciled render #{incident.render_id}: "
                                  f"{'billed' if incident.billed else 'not billed'}.")
    return redirect("staff_unknown_outcomes")
