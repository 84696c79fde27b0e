"""Creates whose outcome is unknown, for staff (the page staff/views/unknown_outcomes.py):

- Adopt a job by its id. A render whose create's answer was lost on a key without a list endpoint cannot be
  matched by the reconciler; it waits (RENDER_ADOPT_WAIT_SECONDS) for staff to find its job at the provider and
  enter the id. The job is fetched with the render's own key, checked against the render as a listed job would be
  (renders.reconcile.mismatches), and taken through the reconciler's path (take_video_id): the render goes on as if
  the create's answer had come back.
- Reconcile a billing incident: once such a render failed, staff check with the provider whether it billed the job
  and close the incident with what they found.

Both are recorded in the audit log. Anything refused raises Refused with words for the page, having changed nothing.
"""

import math

from django.conf import settings
from django.db import IntegrityError, transaction

from providers import audit, limiter
from providers.errors import ProviderError, VideoNotFound
from renders import pipeline
from renders.lifecycle import take_video_id
from renders.models import Render
from renders.reconcile import mismatches
from renders.states import Status

VIDEO_ID_MAX = Render._meta.get_field("provider_video_id").max_length


class Refused(Exception):
    """Nothing was changed; the message says why."""


def waiting_for_a_job():
    """Renders whose create was sent and never answered, that no worker holds: the ones staff may adopt a job for.
    (The reconciler's query, without its wait: staff may act at once.)"""
    return Render.objects.outcome_unknown()


# --- adopting a job by its id -------------------------------------------------------------------------------------

def adopt_job_id(render, video_id, by):
    """Give the waiting render the provider's job `video_id`, fetched with the render's key and checked against it.
    Returns the provider's Video; raises Refused (nothing changed) when the render no longer waits, the id is
    another render's, the provider does not know it or cannot be asked, or the job is not the render's."""
    video_id = (video_id or "").strip()
    if not video_id:
        raise Refused("Enter the provider's job id.")
    if len(video_id) > VIDEO_ID_MAX:
        raise Refused(f"A job id has at most {VIDEO_ID_MAX} characters.")
    _still_waiting(render)
    owner = _owner(render, video_id)
    if owner is not None:
        raise Refused(f"The job {video_id} already belongs to render #{owner}.")
    video = _retrieve(render.api_key, video_id)
    differences = mismatches(render, video, render.create_sent_at, settings.RENDER_RECONCILE_WINDOW_SECONDS)
    if differences:
        raise Refused(f"The job {video_id} is not this render's: {'; '.join(differences)}.")
    try:
        with transaction.atomic():
            adopted = take_video_id(render, video, source="staff",
                                    message=f"Staff adopted the job {video.id}: {by.get_username()} entered its id "
                                            "(the create's answer was lost; it was not sent again).")
            if adopted:
                audit.record(by, "render.adopted", f"render #{render.pk}", f"job {video.id} on key "
                             f"“{render.api_key.name}”", target_type="render", target_id=render.pk)
    except IntegrityError:  # another render took the job a moment ago (the one-render-per-job constraint)
        raise Refused(f"The job {video_id} already belongs to render #{_owner(render, video_id)}.") from None
    if not adopted:
        render.refresh_from_db()
        raise Refused(_no_longer_waiting(render))
    return video


def _still_waiting(render):
    if not waiting_for_a_job().filter(pk=render.pk).exists():
        render.refresh_from_db()
        raise Refused(_no_longer_waiting(render))


def _no_longer_waiting(render):
    if render.provider_video_id:
        return f"Not waiting for a job id: it has the job {render.provider_video_id}."
    if render.status == Status.SENDING:
        return "A worker is sending it right now; wait for the provider's answer."
    return f"Not waiting for a job id: it is {render.get_status_display().lower()}."


def _owner(render, video_id):
    return (Render.objects.filter(api_key_id=render.api_key_id, provider_video_id=video_id).exclude(pk=render.pk)
            .values_list("pk", flat=True).first())


def _retrieve(key, video_id):
    wait = limiter.acquire_request(key.pk)
    if wait > 0:
        raise Refused(f"The key {key.name} is at its request limit; try again in {math.ceil(wait)} s.")
    try:
        with pipeline.provider_client(key) as client:
            video = client.retrieve(video_id)
    except VideoNotFound:
        raise Refused(f"The provider has no job {video_id} for the key {key.name}.") from None
    except ProviderError as exc:
        raise Refused(f"The provider could not be asked about the job {video_id}: {exc}") from None
    if video.id != video_id:
        raise Refused(f"The provider answered with another job ({video.id}) when asked for {video_id}.")
    return video


# --- reconciling what the provider may have billed ----------------------------------------------------------------

def resolve(incident, by, *, billed, note=""):
    """Close the incident with staff's finding (billed or not) and note; raises Refused when it is closed already."""
    with transaction.atomic():
        if not incident.resolve(by, billed=billed, note=note):
            raise Refused(f"The incident of render #{incident.render_id} was resolved already.")
        finding = "billed" if billed else "not billed"
        audit.record(by, "render.billing_reconciled", f"render #{incident.render_id}",
                     f"{finding} (${incident.amount_usd} on key “{incident.api_key.name}”)"
                     + (f": {note}" if note else ""), target_type="render", target_id=incident.render_id)
