"""A render's lifecycle: every status change goes through `transition`, which keeps the money and the key's
concurrency slot in step with the status, in the same transaction; provider news is read by `provider_news`
(a pure function over the status table) and applied by `apply_video`.

Nothing here calls the provider; work for the provider is enqueued on commit (renders.enqueue).
"""

from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from projects.models import Project
from providers import limiter
from quotas import services as quotas
from renders import enqueue, keypool, timing
from renders.models import EventKind, Render, WebhookDelivery
from renders.states import AT_PROVIDER, FINAL, Status, can_move, from_provider

# --- errors in plain words -----------------------------------------------------------------------

PLAIN_ERRORS = {
    "moderation_blocked": "The provider's safety system refused this prompt or image. Try rewording it.",
    "no_usable_key": "No provider key could take this render (all are out of credit, invalid, disabled or busy).",
    "outcome_unknown": "The provider never confirmed that it received this render.",
    "deadline": "The provider did not finish this render in time.",
    "expired": "The video expired at the provider before it could be stored.",
    "not_found": "The provider no longer has this video.",
    "provider_unavailable": "The provider kept failing; we gave up after several tries.",
    "download_failed": "The finished video could not be downloaded completely after several tries.",
    "invalid_request": "The provider refused the request.",
    "model_not_found": "This provider key cannot use the chosen model.",
    "deployment_not_found": "The provider has no deployment of the chosen model on this key's resource.",
    "unknown_status": "The provider reported a status we do not know, so the render was stopped.",
}


# The provider refused the request itself: its own words help (plain_error quotes them), and the refund says so.
REJECTED = ("invalid_request", "moderation_blocked", "model_not_found", "deployment_not_found")


# A render whose key has no list endpoint and whose create's answer was lost: nothing can show that the provider did
# not make (and bill) the job, so the words say so; an incident keeps the amount for staff to reconcile.
MAY_HAVE_BILLED = ("Outcome unknown: the provider never confirmed this render and may have billed it; staff will "
                   "check with the provider.")


def lost_answer_plan(key):
    """What happens next to a create whose answer was lost, for the render's timeline (renders.timeline reads the
    first words)."""
    if key.has_list_endpoint:
        return "the reconciler will look for the job in the provider's list"
    return ("this key's provider has no list to look it up in, so it waits for a webhook or for staff to adopt "
            "the job id")


def plain_error(code, provider_message=""):
    """A sentence for people: ours for known codes, with the provider's own words where they help."""
    ours = PLAIN_ERRORS.get(code or "")
    if ours and provider_message and code in REJECTED:
        return f"{ours} The provider said: {provider_message}"
    return ours or provider_message or "The render failed at the provider."


# --- moves ---------------------------------------------------------------------------------------

def transition(render, to, *, source, message="", request_id="", refund_reason=None, **fields):
    """Move the render (a conditional UPDATE, see Render.move) and keep the books in the same transaction:
    a failure or cancel refunds the reservation; leaving the provider's queue gives the key's job slot back.
    Completion (and its settlement) is `complete_render`'s. Returns whether this call made the move."""
    with transaction.atomic():
        if to == Status.FAILED:
            fields.setdefault("next_attempt_at", None)
            fields.setdefault("heartbeat_at", None)
        key_id = render.api_key_id  # whose slot it holds: a refused create's move clears the key
        if not render.move(to, source=source, message=message, request_id=request_id, **fields):
            return False
        if to in (Status.FAILED, Status.CANCELED):
            quotas.refund(render, refund_reason or quotas.RefundReason.FAILED)
        if to in (Status.DOWNLOADING, Status.FAILED, Status.CANCELED, Status.WAITING):
            release_slot(render, key_id)
    return True


def release_slot(render, key_id=None):
    """Give the key's concurrency slot back, once (the flag is cleared by a conditional UPDATE), and wake the render
    that has waited longest for a slot of this key: it need not sit out RENDER_KEY_RETRY_SECONDS."""
    key_id = key_id or render.api_key_id
    if key_id and Render.objects.filter(pk=render.pk, job_slot_held=True).update(job_slot_held=False):
        render.job_slot_held = False
        limiter.release_job_slot(key_id)
        keypool.wake_next(key_id)


def mark_failed(render, code, provider_message="", *, source, request_id="", refund_reason=None, message=None):
    """End the render as failed with a reason people can read (`message`, else `plain_error`'s); refunds. False if it
    was already final."""
    reason = refund_reason or (quotas.RefundReason.MODERATION if code == "moderation_blocked"
                               else quotas.RefundReason.REJECTED if code in REJECTED
                               else quotas.RefundReason.NO_USABLE_KEY if code == "no_usable_key"
                               else quotas.RefundReason.FAILED)
    text = message or plain_error(code, provider_message)
    return transition(render, Status.FAILED, source=source, request_id=request_id, message=text,
                      event_kind=EventKind.STATUS, refund_reason=reason, error_code=code or "failed",
                      error_message=text)


def complete_render(render, delivered_seconds, *, source="worker"):
    """downloading -> completed, with the delivered duration read from the stored MP4; settles the charge."""
    with transaction.atomic():
        now = timezone.now()
        if not render.move(Status.COMPLETED, source=source, event_kind=EventKind.STATUS,
                           message=f"Completed: {float(delivered_seconds):.2f} s of video stored.",
                           delivered_seconds=delivered_seconds, completed_at=now, progress=100,
                           next_attempt_at=None, heartbeat_at=None):
            return False
        quotas.settle(render)
    return True


# --- provider news -------------------------------------------------------------------------------

class Act(StrEnum):
    """What to do with a piece of provider news (see provider_news)."""

    NOTHING = "nothing"  # the render is final: nothing the provider says changes it
    PROGRESS = "progress"  # the same status: only the progress (and the expiry) may grow
    STALE = "stale"  # not a legal move (older news than what we know): only the expiry is kept
    KEEP_STORING = "keep_storing"  # a failure reported while we store the files: the download decides
    FAIL = "fail"
    DOWNLOAD = "download"  # finished at the provider: store the files
    MOVE = "move"  # queued -> in progress and the like


@dataclass(frozen=True)
class News:
    act: Act
    target: Status | None = None
    error_code: str = ""
    error_message: str = ""


def provider_news(current, video_status, error_code=None, error_message=None):
    """What the provider's news means for a render that has the status `current` (pure: no database).

    `video_status` is the provider's job status (queued, in_progress, completed, failed, or anything else, which is
    terminal); `error_code` / `error_message` are the provider's error of a failed job. News only moves a render
    forward, so an old answer arriving after a newer one is not a legal move and changes nothing."""
    if current in FINAL:
        return News(Act.NOTHING)
    target = from_provider(video_status)
    if target == current:
        return News(Act.PROGRESS, target)
    if not can_move(current, target):
        return News(Act.STALE, target)
    if target == Status.FAILED:
        if current == Status.DOWNLOADING:
            return News(Act.KEEP_STORING, target)
        if video_status == "failed":
            return News(Act.FAIL, target, error_code or "failed", error_message or "")
        if video_status == "expired":
            return News(Act.FAIL, target, "expired")
        return News(Act.FAIL, target, "unknown_status", f"status {video_status!r}")
    if target == Status.DOWNLOADING:
        return News(Act.DOWNLOAD, target)
    return News(Act.MOVE, target)


VIA = {"webhook": " (webhook)", "poll": " (poll)", "reconciler": " (found by the reconciler)"}


def apply_video(render, video, source):
    """Apply the provider's news about the render's job (a create's answer, a poll, a webhook's fetch).

    Progress only grows. Completion moves to downloading and enqueues the download. Returns whether the render
    moved."""
    expires_at = timing.from_unix(video.expires_at)
    with transaction.atomic():
        render.refresh_from_db()
        news = provider_news(render.status, video.status, video.error.code if video.error else None,
                             video.error.message if video.error else None)
        if news.act in (Act.NOTHING, Act.KEEP_STORING):
            return False
        extra = {}
        if expires_at and render.provider_expires_at != expires_at:
            extra["provider_expires_at"] = expires_at
        progress = max(render.progress, min(int(video.progress or 0), 100))
        if news.act in (Act.PROGRESS, Act.STALE):
            if news.act == Act.PROGRESS and progress != render.progress:
                extra["progress"] = progress
            if extra and render.update_if(**extra) and "progress" in extra:
                # a move's event marks the project changed (renders.notices); a progress step has no event
                Project.mark_changed(render.project_id)
            return False
        request_id = video.request_id or ""
        if news.act == Act.FAIL:
            return mark_failed(render, news.error_code, news.error_message, source=source, request_id=request_id)
        via = VIA.get(source, "")
        if news.act == Act.DOWNLOAD:
            # the download is sent at once; should its message be lost, the dispatcher sends it after a lease
            due = timing.after(settings.RENDER_DISPATCH_LEASE_SECONDS)
            moved = transition(render, Status.DOWNLOADING, source=source, request_id=request_id,
                               message=f"Finished at the provider{via}; storing the video.", progress=100,
                               next_attempt_at=due, heartbeat_at=None, **extra)
            if moved:
                enqueue.on_commit("download_render", render.pk, timing.due_token(due))
            return moved
        label = Status(news.target).label.lower()
        return transition(render, news.target, source=source, request_id=request_id,
                          message=f"{label.capitalize()} at the provider{via}.", progress=progress, **extra)


def take_video_id(render, video, *, source, message=""):
    """The provider accepted the render's job: remember its id (once), then apply its first news and any
    webhook that arrived before we knew the id."""
    rows = Render.objects.filter(pk=render.pk, status=Status.SENDING, provider_video_id="")
    fields = {"provider_video_id": video.id, "heartbeat_at": None, "error_code": "", "error_message": "",
              "updated_at": timezone.now()}
    if render.fence:
        # the create's own answer, even one that comes after the reaper took the render from its quiet worker (the
        # job exists: better taken now than looked for): unless another claim holds the render, which sends its own
        rows = rows.filter(claim_token__in=[render.fence, ""])
        fields["claim_token"] = render.fence
    with transaction.atomic():
        if not rows.update(**fields):
            return False
        render.refresh_from_db()
        # a job found later (in the provider's list, or by staff with its id) is adopted; the create's answer is not
        render.note(EventKind.ADOPTED if source in ("reconciler", "staff") else EventKind.REQUEST,
                    message or f"The provider accepted the job {video.id}.", source=source,
                    request_id=video.request_id or "")
        apply_video(render, video, source=source)
        if render.status in AT_PROVIDER:
            render.update_if(status=AT_PROVIDER, next_attempt_at=timing.after(timing.first_poll_delay(render)))
        for delivery_id in WebhookDelivery.objects.filter(
                api_key_id=render.api_key_id, video_id=video.id, applied_at__isnull=True).values_list("pk", flat=True):
            enqueue.on_commit("apply_webhook", delivery_id)
    return True
