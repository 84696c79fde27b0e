"""What people and the pipeline do to renders. Every entry point (the studio page, remix, retry) submits
through `submit`; every status change goes through `transition`, which keeps the money and the key's
concurrency slot in step with the status, in the same transaction.

Nothing here calls the provider: work for the provider is enqueued on commit and done by renders.tasks.
"""

import io
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from projects.access import get_membership
from projects.models import Role
from providers import limiter
from quotas import services as quotas
from renders.models import EventKind, Render, prompt_hash
from renders.states import AT_PROVIDER, FINAL, Status, can_move, from_provider

log = logging.getLogger(__name__)

IMAGE_FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}


class RenderError(Exception):
    """A request about a render that cannot be done now; the message says why, in plain words."""


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
    "unknown_status": "The provider reported a status we do not know, so the render was stopped.",
}


def plain_error(code, provider_message=""):
    """A sentence for people: ours for known codes, with the provider's own words where they help."""
    ours = PLAIN_ERRORS.get(code or "")
    if ours and provider_message and code in ("invalid_request", "moderation_blocked", "model_not_found"):
        return f"{ours} The provider said: {provider_message}"
    return ours or provider_message or "The render failed at the provider."


# --- submit --------------------------------------------------------------------------------------

@dataclass
class CheckedImage:
    content: bytes
    ext: str
    content_type: str


def check_reference_image(upload, size):
    """The reference image, checked by content: a JPEG, PNG or WebP of exactly `size` pixels (the provider
    uses it as the first frame and refuses any other size). Returns a CheckedImage or raises ValidationError."""
    from PIL import Image, UnidentifiedImageError

    upload.seek(0)
    content = upload.read(settings.RENDER_REFERENCE_MAX_BYTES + 1)
    if len(content) > settings.RENDER_REFERENCE_MAX_BYTES:
        mb = settings.RENDER_REFERENCE_MAX_BYTES // (1024 * 1024)
        raise ValidationError({"reference_image": f"The image is larger than {mb} MB."})
    try:
        with Image.open(io.BytesIO(content)) as image:
            image_format = image.format
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError({"reference_image": "This file is not a readable JPEG, PNG or WebP image."}) from None
    if image_format not in IMAGE_FORMATS:
        raise ValidationError({"reference_image": "The image must be a JPEG, PNG or WebP."})
    if f"{width}x{height}" != size:
        raise ValidationError(
            {"reference_image": f"The image is {width}x{height} pixels; it must be exactly {size} (the video's size)."}
        )
    ext, content_type = IMAGE_FORMATS[image_format]
    return CheckedImage(content, ext, content_type)


def validate(*, prompt, model, size, seconds):
    """Cleaned (prompt, model, size, seconds) or ValidationError naming each bad field."""
    errors = {}
    prompt = (prompt or "").strip()
    if not prompt:
        errors["prompt"] = "Describe the video you want."
    elif len(prompt) > settings.RENDER_PROMPT_MAX_CHARS:
        errors["prompt"] = f"The prompt is {len(prompt)} characters; the most is {settings.RENDER_PROMPT_MAX_CHARS}."
    models = settings.RENDER_MODELS
    if model not in models:
        errors["model"] = f"Choose a model: {', '.join(models)}."
    elif size not in models[model]:
        errors["size"] = f"{model} renders only {', '.join(models[model])}."
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        seconds = None
    if seconds not in settings.RENDER_SECONDS:
        errors["seconds"] = f"Choose a length of {', '.join(map(str, settings.RENDER_SECONDS))} seconds."
    if errors:
        raise ValidationError(errors)
    return prompt, model, size, seconds


def check_remix_parent(parent, project):
    if parent.project_id != project.pk:
        raise ValidationError({"remix_of": "Only a render of this project can be remixed here."})
    if parent.is_deleted:
        raise ValidationError({"remix_of": "That render was deleted."})
    if parent.status != Status.COMPLETED or not parent.provider_video_id or parent.api_key is None:
        raise ValidationError({"remix_of": "Only a completed render can be remixed."})
    key = parent.api_key
    if not (key.can_remix_endpoint or key.can_remix_by_create):
        raise ValidationError({"remix_of": f"The provider of {key.name} does not support remixes."})
    if parent.provider_expires_at and parent.provider_expires_at <= timezone.now():
        raise ValidationError({"remix_of": "The provider no longer keeps this video, so it cannot be remixed."})


def submit(user, project, *, prompt, model=None, size=None, seconds=None, reference_image=None, remix_of=None,
           retry_of=None):
    """Validate, reserve the quota, create the render and enqueue its create once the transaction commits.

    Needs the editor role. A remix takes its parent's model, size and length (the provider's remix keeps
    them) and is pinned to the parent's key. Raises ValidationError (a dict by field), quotas'
    QuotaExceeded (nothing is created), Http404 / PermissionDenied from projects.access."""
    get_membership(user, project.pk, Role.EDITOR, write=True)
    if remix_of is not None:
        check_remix_parent(remix_of, project)
        model, size, seconds = remix_of.model, remix_of.size, remix_of.seconds
        if reference_image is not None:
            raise ValidationError({"reference_image": "A remix starts from its parent video, not from an image."})
    prompt, model, size, seconds = validate(prompt=prompt, model=model, size=size, seconds=seconds)
    image = check_reference_image(reference_image, size) if reference_image is not None else None

    with transaction.atomic():
        now = timezone.now()
        render = Render.objects.create(
            project=project, author=user, prompt=prompt, model=model, size=size, seconds=seconds,
            remix_of=remix_of, retry_of=retry_of, prompt_hash=prompt_hash(prompt),
            api_key=remix_of.api_key if remix_of is not None else None,
            created_at=now, updated_at=now,
            # the safety net if the enqueued message is lost (or the broker is down): the dispatcher sends it after this
            next_attempt_at=now + _seconds(settings.RENDER_DISPATCH_LEASE_SECONDS),
        )
        quotas.reserve(render)  # QuotaExceeded propagates: the transaction rolls back, nothing is created
        if image is not None:
            # last, so a refusal above leaves no file behind
            render.reference_image.save(f"reference.{image.ext}", ContentFile(image.content), save=False)
            render.save(update_fields=["reference_image"])
        what = "Remix submitted" if remix_of else "Retry submitted" if retry_of else "Submitted"
        render.events.create(kind=EventKind.SUBMITTED, status_to=render.status, source="user",
                             message=f"{what} by {user.get_username()}: {model}, {size}, {seconds} s.")
        _enqueue_on_commit("create_render", render.pk, due_token(render.next_attempt_at))
    return render


def retry(render, user):
    """Try again: a NEW render with the same prompt, settings, reference image and parent (a failed or canceled
    render keeps its own history). Goes through submit, so it is validated and charged like any render."""
    if render.status not in (Status.FAILED, Status.CANCELED):
        raise RenderError("Only a failed or canceled render can be tried again.")
    if render.is_deleted:
        raise RenderError("This render was deleted; submit its prompt again instead.")
    image = None
    if render.reference_image:
        with render.reference_image.open("rb") as f:
            image = ContentFile(f.read(), name="reference")
    return submit(user, render.project, prompt=render.prompt, model=render.model, size=render.size,
                  seconds=render.seconds, reference_image=image, remix_of=render.remix_of, retry_of=render)


def _change_allowed(render, user):
    membership = get_membership(user, render.project_id, Role.EDITOR, write=True)
    if not membership.can_change(render.author_id):
        raise PermissionDenied("Editors can change only their own renders; an owner can change any.")


def cancel(render, user):
    """Cancel a render whose create has not been sent (waiting in our queue or for a key). Once the provider
    accepted the job it is billed, so it runs to the end: RenderError says so."""
    _change_allowed(render, user)
    with transaction.atomic():
        render.refresh_from_db()
        if not render.can_cancel:
            if render.is_final:
                raise RenderError(f"This render is already {render.get_status_display().lower()}.")
            raise RenderError("The provider has already accepted this render; it is billed and will run to the end.")
        if not transition(render, Status.CANCELED, source="user", message=f"Canceled by {user.get_username()}.",
                          refund_reason=quotas.RefundReason.CANCELED, next_attempt_at=None):
            raise RenderError("The render was sent to the provider a moment ago; it will run to the end.")
    return render


def delete(render, user):
    """Soft delete: the row, its events and its lineage stay ("parent deleted" for its remixes); the stored
    files are removed by a task. A render in flight cannot be deleted (cancel it first, if it was not sent)."""
    _change_allowed(render, user)
    with transaction.atomic():
        now = timezone.now()
        done = Render.objects.filter(pk=render.pk, status__in=FINAL, deleted_at__isnull=True).update(
            deleted_at=now, updated_at=now)
        render.refresh_from_db()
        if not done:
            if render.is_deleted:
                return render
            raise RenderError("A render in flight cannot be deleted; wait for it to finish, or cancel it if it "
                              "has not been sent.")
        render.note(EventKind.DELETED, f"Deleted by {user.get_username()}.", source="user")
        _enqueue_on_commit("remove_render_files", render.pk)
    return render


# --- the pipeline's moves ------------------------------------------------------------------------

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
        wake_next_waiting(key_id)


def wake_next_waiting(key_id):
    """Send the create of the render that has waited longest for this key now (on commit; should the message be
    lost, the dispatcher sends it after a lease). Only renders waiting for a key or a slot: no failed tries (a
    backoff after a provider fault is kept)."""
    from providers.incidents import pool_filter
    from providers.models import ApiKey

    key = ApiKey.objects.filter(pk=key_id).first()
    if key is None or not key.takes_new_work:
        return False
    now = timezone.now()
    # the one whose last look is oldest (updated_at): a render that looked a moment ago and waits only for the next
    # request slot comes back by itself; waking it would leave one asleep behind a free job slot
    waiting = (Render.objects.filter(status=Status.WAITING, attempts=0, heartbeat_at__isnull=True,
                                     next_attempt_at__gt=now).filter(pool_filter(key))
               .order_by("updated_at", "pk").values_list("pk", "next_attempt_at").first())
    if waiting is None:
        return False
    pk, was = waiting
    due = now + _seconds(settings.RENDER_DISPATCH_LEASE_SECONDS)
    if not Render.objects.filter(pk=pk, next_attempt_at=was).update(next_attempt_at=due):
        return False
    _enqueue_on_commit("create_render", pk, due_token(due))
    return True


def mark_failed(render, code, provider_message="", *, source, request_id="", refund_reason=None):
    """End the render as failed with a reason people can read; refunds. False if it was already final."""
    reason = refund_reason or (quotas.RefundReason.MODERATION if code == "moderation_blocked"
                               else quotas.RefundReason.REJECTED if code in ("invalid_request", "model_not_found")
                               else quotas.RefundReason.NO_USABLE_KEY if code == "no_usable_key"
                               else quotas.RefundReason.FAILED)
    text = plain_error(code, provider_message)
    return transition(render, Status.FAILED, source=source, request_id=request_id, message=text,
                      event_kind=EventKind.STATUS, refund_reason=reason, error_code=code or "failed",
                      error_message=text)


def apply_video(render, video, source):
    """Apply the provider's news about the render's job (a create's answer, a poll, a webhook's fetch).

    News only moves a render forward: an old answer arriving after a newer one is not a legal move and
    changes nothing. Progress only grows. Completion moves to downloading and enqueues the download."""
    target = from_provider(video.status)
    expires_at = _from_unix(video.expires_at)
    with transaction.atomic():
        render.refresh_from_db()
        if render.is_final:
            return False
        extra = {}
        if expires_at and render.provider_expires_at != expires_at:
            extra["provider_expires_at"] = expires_at
        if target == render.status:
            progress = max(render.progress, min(int(video.progress or 0), 100))
            if progress != render.progress:
                extra["progress"] = progress
            if extra:
                render.update_if(**extra)
            return False
        if not can_move(render.status, target):
            if extra:
                render.update_if(**extra)
            return False
        via = {"webhook": " (webhook)", "poll": " (poll)", "reconciler": " (found by the reconciler)"}.get(source, "")
        if target == Status.FAILED:
            if render.status == Status.DOWNLOADING:
                return False  # the job finished; whether its files can still be stored is the download's call
            if video.status == "failed":
                code = (video.error.code if video.error else None) or "failed"
                provider_message = (video.error.message if video.error else "") or ""
            else:
                code, provider_message = "unknown_status", f"status {video.status!r}"
            return mark_failed(render, code, provider_message, source=source, request_id=video.request_id or "")
        if target == Status.DOWNLOADING:
            # the download is sent at once; should its message be lost, the dispatcher sends it after a lease
            due = timezone.now() + _seconds(settings.RENDER_DISPATCH_LEASE_SECONDS)
            moved = transition(render, Status.DOWNLOADING, source=source, request_id=video.request_id or "",
                               message=f"Finished at the provider{via}; storing the video.", progress=100,
                               next_attempt_at=due, heartbeat_at=None, **extra)
            if moved:
                _enqueue_on_commit("download_render", render.pk, due_token(due))
            return moved
        progress = max(render.progress, min(int(video.progress or 0), 100))
        label = Status(target).label.lower()
        return transition(render, target, source=source, request_id=video.request_id or "",
                          message=f"{label.capitalize()} at the provider{via}.", progress=progress, **extra)


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


def take_video_id(render, video, *, source, message=""):
    """The provider accepted the render's job: remember its id (once), then apply its first news and any
    webhook that arrived before we knew the id."""
    from renders.models import WebhookDelivery

    with transaction.atomic():
        if not Render.objects.filter(pk=render.pk, status=Status.SENDING, provider_video_id="").update(
                provider_video_id=video.id, heartbeat_at=None, error_code="", error_message="",
                updated_at=timezone.now()):
            return False
        render.refresh_from_db()
        render.note(EventKind.REQUEST if source != "reconciler" else EventKind.ADOPTED,
                    message or f"The provider accepted the job {video.id}.", source=source,
                    request_id=video.request_id or "")
        apply_video(render, video, source=source)
        if render.status in AT_PROVIDER:
            render.update_if(status=AT_PROVIDER, next_attempt_at=timezone.now() + _seconds(first_poll_delay(render)))
        for delivery_id in WebhookDelivery.objects.filter(
                api_key_id=render.api_key_id, video_id=video.id, applied_at__isnull=True).values_list("pk", flat=True):
            _enqueue_on_commit("apply_webhook", delivery_id)
    return True


# --- poll timing ---------------------------------------------------------------------------------

def first_poll_delay(render):
    if render.api_key and render.api_key.has_webhooks:
        return settings.RENDER_POLL_WITH_WEBHOOKS_SECONDS
    return settings.RENDER_POLL_INITIAL_SECONDS


def next_poll_delay(render, poll_after_ms=None):
    """Seconds until the next poll. With webhooks: the rare safety net. Without: the provider's hint, within
    our own bounds (never sooner than MIN, never later than MAX); without a hint, our backoff from INITIAL."""
    if render.api_key and render.api_key.has_webhooks:
        return settings.RENDER_POLL_WITH_WEBHOOKS_SECONDS
    if poll_after_ms:
        delay = poll_after_ms / 1000
    else:
        delay = settings.RENDER_POLL_INITIAL_SECONDS * settings.RENDER_POLL_BACKOFF ** render.attempts
    return min(max(delay, settings.RENDER_POLL_MIN_SECONDS), settings.RENDER_POLL_MAX_SECONDS)


def retry_delay(attempts):
    """Exponential backoff with full jitter for retries after provider faults: base * 2^n, capped."""
    import random

    cap = min(settings.RENDER_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), settings.RENDER_RETRY_MAX_SECONDS)
    return cap / 2 + random.uniform(0, cap / 2)


# --- helpers -------------------------------------------------------------------------------------

def _seconds(value):
    from datetime import timedelta

    return timedelta(seconds=float(value))


def _from_unix(value):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(value, tz=UTC) if value else None


def due_token(when):
    """The `due` a render's step message carries: the next_attempt_at it was sent for (see pipeline.claim)."""
    return when.isoformat()


def parse_due(token):
    from datetime import datetime

    return datetime.fromisoformat(token)


def _enqueue_on_commit(task_name, *args):
    """Send a task once the current transaction commits (ids only): a rolled back change sends nothing.

    Robust: with the broker down (Redis restarting) the change stands and the error is logged; the render's
    next_attempt_at (or, for a webhook, the polling safety net) brings the work back, so a submit never fails
    for a broker hiccup."""
    from renders import tasks

    task = getattr(tasks, task_name)
    transaction.on_commit(lambda: task.delay(*args), robust=True)
