"""The worker's steps: send the create, poll, fetch after a webhook, store the assets, dispatch due work.

Each step re-reads the render, claims it with a conditional UPDATE (the heartbeat: a worker holds it) and
returns quietly when there is nothing to do, so a duplicate or late message is harmless. A step that has to
wait never sleeps: it sets `next_attempt_at`, which the periodic dispatcher turns into the next task. Every
message carries the `next_attempt_at` it was sent for (its `due`), and only that one may claim the render: a
stale duplicate cannot cut a backoff or a rate-limit wait short.

What each provider error does: a rate limit pauses the key for every worker until the provider's wait
plus jitter; out of credit and an invalid key mark the key at once, and renders not yet created move to another
usable key or wait for one (a remix only for its parent's key), while jobs already accepted go on being tracked
and stored with their own key, which waits for the key when it is refused; a provider that cannot be reached (down,
restarting) is waited for without using up tries, a create until RENDER_MAX_KEY_WAIT_SECONDS, a download until its
assets expire; 5xx and timeouts are retried with exponential backoff and jitter, then fail with a reason (refunded);
a create whose outcome is
unknown is never sent again (the reconciler decides); 400, 404 and moderation fail at once with the provider's
words, refunded.
"""

import functools
import logging
import secrets
import time
from datetime import timedelta
from decimal import Decimal

import httpx
from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from providers import limiter
from providers.errors import (
    DeploymentNotReady,
    IncompleteDownload,
    InvalidKey,
    InvalidRequest,
    ModelNotFound,
    Moderated,
    OutcomeUnknown,
    OutOfCredit,
    ProviderError,
    ProviderUnreachable,
    RateLimited,
    URLRefused,
    VideoNotFound,
)
from providers.mp4 import Mp4Error, Mp4Scanner
from renders import enqueue, keypool, timing, watching, workers
from renders.lifecycle import (
    apply_video,
    complete_render,
    lost_answer_plan,
    mark_failed,
    plain_error,
    take_video_id,
    transition,
)
from renders.models import VARIANTS, EventKind, Render, WebhookDelivery, asset_path, prompt_hash
from renders.states import AT_PROVIDER, NOT_SENT, Status

log = logging.getLogger(__name__)


def _stale_before():
    return timezone.now() - timedelta(seconds=settings.RENDER_HEARTBEAT_STALE_SECONDS)


def claim(render_id, statuses, due=None):
    """Hold the render for this worker: a conditional UPDATE that only one worker wins while the render
    has one of `statuses` and no live worker holds it. Returns the render, or None (nothing to do). The render
    records which worker process holds it (claimed_by), so the reaper resumes it as soon as that process dies.

    `due` (an ISO timestamp, from the message) is the next_attempt_at the message was sent for: when given, the
    render must still have it, so a message that a newer wait (a backoff, a rate-limit pause) or a newer dispatch
    has made stale claims nothing.

    Each claim draws a new attempt token, and the render returned is fenced by it (Render.fence): its writes, the
    create's POST and a download's file only go ahead while no later claim (or the reaper) has taken the render."""
    now = timezone.now()
    token = secrets.token_hex(8)
    rows = Render.objects.filter(pk=render_id, status__in=statuses)
    if due is not None:
        rows = rows.filter(next_attempt_at=timing.parse_due(due))
    claimed = (
        rows.filter(Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=_stale_before()))
        .update(heartbeat_at=now, next_attempt_at=None, claimed_by=workers.name(), claim_token=token)
    )
    if not claimed:
        return None
    render = Render.objects.select_related("api_key", "remix_of", "project").get(pk=render_id)
    render.fence = token
    return render


class LostClaim(Exception):
    """The render was taken from this worker (it went quiet past the stale time, and the reaper or another claim
    took over): the step stops where it is, having sent and written nothing more."""


def release(render, *, status, after=None, **fields):
    """Let go of the render: clear the heartbeat and set the next attempt, if it still has `status`."""
    render.update_if(status=status, heartbeat_at=None,
                     next_attempt_at=timing.after(after) if after is not None else None, **fields)


def _rate_limited(key, exc):
    """A 429 rate limit: pause the key for every worker until the provider's wait plus jitter; returns the wait."""
    wait = timing.jitter(exc.retry_after if exc.retry_after is not None else settings.RENDER_RETRY_BASE_SECONDS)
    limiter.pause(key.pk, wait, f"rate limited: {exc}")
    return wait


def _key_refused(key, exc):
    """The provider refused the key itself on a call about an accepted job (401, or a billing error): mark the key,
    and return the seconds to wait for someone to fix it. Not a fault of the job: no try is counted against it."""
    if isinstance(exc, InvalidKey):
        key.mark_invalid(exc)
    else:
        key.mark_out_of_credit(exc)
    return timing.jitter(settings.RENDER_KEY_RETRY_SECONDS)


@functools.cache
def _ssl_context():
    # httpx builds a fresh SSL context (reading the whole CA bundle) for every client: 100+ ms of CPU a call
    return httpx.create_ssl_context()


def provider_client(key):
    """A VideoClient for the key, on a transport that shares this process's SSL context."""
    return key.client(transport=httpx.HTTPTransport(verify=_ssl_context()))


# --- create ------------------------------------------------------------------------------------------

def send_create(render_id, due=None):
    """Claim the render, take a key, store what the create will be BEFORE the POST, POST once, keep the id.
    When the outcome is unknown (sent, no answer) the create is never sent again: the reconciler settles it."""
    render = claim(render_id, NOT_SENT, due)
    if render is None:
        return
    choice = keypool.choose_key(render)
    if choice.key is None:
        return wait_for_key(render, choice)
    key = choice.key
    now = timezone.now()
    with transaction.atomic():
        moved = render.move(
            Status.SENDING, source="worker", event_kind=EventKind.STATUS,
            message=f"Sending the create to the provider with the key {key.name}.",
            api_key=key, job_slot_held=True, create_sent_at=now, prompt_hash=prompt_hash(render.prompt),
            heartbeat_at=now, next_attempt_at=None, attempts=render.attempts,
        )
    if not moved:  # canceled meanwhile: nothing was sent
        limiter.release_job_slot(key.pk)
        return
    reference = None if render.remix_of_id else _reference(render)
    if not render.holds():  # frozen since the claim and taken over meanwhile: the new holder sends it, not us
        log.warning("render %s: the claim was taken over before the create was sent; not sending it", render.pk)
        return
    try:
        with provider_client(key) as client:
            if render.remix_of_id:
                by = "endpoint" if key.can_remix_endpoint else "create"
                video = client.remix(render.remix_of.provider_video_id, render.prompt, by=by)
            else:
                video = client.create(prompt=render.prompt, model=render.model, size=render.size,
                                      seconds=str(render.seconds), input_reference=reference,
                                      reference_as=key.reference_as)
    except OutcomeUnknown as exc:
        with transaction.atomic():
            render.update_if(status=Status.SENDING, heartbeat_at=None, error_code="outcome_unknown",
                             error_message=plain_error("outcome_unknown"))
            render.note(EventKind.ERROR, f"The create was sent but no answer came back ({exc.message}). It is never "
                        f"sent twice: {lost_answer_plan(key)}.", source="worker", request_id=exc.request_id)
        return
    except ProviderError as exc:
        return create_refused(render, key, exc)
    take_video_id(render, video, source="worker")


def _reference(render):
    if not render.reference_image:
        return None
    name = render.reference_image.name.rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1].lower()
    content_type = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}.get(
        ext, "application/octet-stream")
    with render.reference_image.open("rb") as f:
        return name, f.read(), content_type


def _note_once(render, kind, message, *, source, request_id=""):
    """One event per reason, not one per look: a key may stay refused or busy for a long time."""
    last = render.events.filter(kind=kind).order_by("-pk").values_list("message", flat=True).first()
    if last != message:
        render.note(kind, message, source=source, request_id=request_id)


def wait_for_key(render, choice):
    """No key now: wait (next_attempt_at), or fail as "no usable key" once the wait passed its maximum."""
    if timezone.now() - render.created_at > timedelta(seconds=settings.RENDER_MAX_KEY_WAIT_SECONDS):
        mark_failed(render, "no_usable_key", choice.reason, source="worker")
        return
    with transaction.atomic():
        if render.status == Status.SUBMITTING:
            transition(render, Status.WAITING, source="worker", event_kind=EventKind.WAIT, message=choice.reason,
                       heartbeat_at=None, next_attempt_at=timing.after(choice.wait), attempts=render.attempts)
            return
        last = render.events.filter(kind=EventKind.WAIT).order_by("-pk").values_list("message", flat=True).first()
        if last != choice.reason:  # one event per reason, not one per look
            render.note(EventKind.WAIT, choice.reason, source="worker")
        release(render, status=Status.WAITING, after=choice.wait)


def create_refused(render, key, exc):
    """The provider answered the create with an error: no job exists, so the render may try again (on
    another key, unless it is a remix), or fails with the provider's reason when trying again cannot help."""
    request_id = exc.request_id or ""
    if isinstance(exc, Moderated):
        return mark_failed(render, "moderation_blocked", exc.message, source="worker", request_id=request_id)
    if isinstance(exc, ModelNotFound):
        return mark_failed(render, "model_not_found", exc.message, source="worker", request_id=request_id)
    if isinstance(exc, (InvalidRequest, VideoNotFound)):
        code = "not_found" if isinstance(exc, VideoNotFound) else "invalid_request"
        return mark_failed(render, code, exc.message, source="worker", request_id=request_id)
    attempts = render.attempts
    if isinstance(exc, RateLimited):
        wait = _rate_limited(key, exc)
        reason = f"The key {key.name} is rate limited; trying again in {wait:.0f} s."
    elif isinstance(exc, OutOfCredit):
        key.mark_out_of_credit(exc)
        wait, reason = 0, f"The key {key.name} is out of credit; trying another key."
    elif isinstance(exc, InvalidKey):
        key.mark_invalid(exc)
        refused = (f"'s address is not allowed ({exc.message}); nothing was sent" if isinstance(exc, URLRefused)
                   else " was refused by the provider (invalid)")
        wait, reason = 0, f"The key {key.name}{refused}; trying another key."
    elif isinstance(exc, DeploymentNotReady):
        # nothing was created; a deployment made minutes ago appears by itself: try again slowly, for a while
        attempts += 1
        wait = settings.RENDER_DEPLOYMENT_RETRY_SECONDS
        if attempts * wait > settings.RENDER_DEPLOYMENT_WAIT_SECONDS:
            return mark_failed(render, "deployment_not_found", exc.message, source="worker", request_id=request_id)
        reason = (f"The key {key.name} has no deployment of {render.model} yet ({exc.message}); trying again in "
                  f"{wait:.0f} s.")
    elif isinstance(exc, ProviderUnreachable):
        # down or restarting: not the render's fault, so no try is used up; it waits (another key may take it) as it
        # waits for a usable key, as long as that
        key.record_error(exc)
        if timezone.now() - render.created_at > timedelta(seconds=settings.RENDER_MAX_KEY_WAIT_SECONDS):
            return mark_failed(render, "provider_unavailable", exc.message, source="worker", request_id=request_id)
        wait = timing.jitter(settings.RENDER_KEY_RETRY_SECONDS)
        reason = f"The provider could not be reached ({exc.message}); trying again in {wait:.0f} s."
    else:  # a provider fault before the job existed: back off, then give up with a reason
        key.record_error(exc)
        attempts += 1
        if attempts >= settings.RENDER_MAX_ATTEMPTS:
            return mark_failed(render, "provider_unavailable", exc.message, source="worker", request_id=request_id)
        wait = timing.retry_delay(attempts)
        reason = f"The provider failed ({exc.message}); try {attempts + 1} in {wait:.0f} s."
    fields = {"create_sent_at": None, "heartbeat_at": None, "next_attempt_at": timing.after(wait), "attempts": attempts}
    if not render.remix_of_id:
        fields["api_key"] = None  # no job exists: the next try may use another key of the pool
    transition(render, Status.WAITING, source="worker", event_kind=EventKind.RETRY, message=reason,
               request_id=request_id, **fields)


# --- track -------------------------------------------------------------------------------------------

def poll(render_id, due=None):
    """Ask the provider about a job, apply the news, schedule the next poll: at the provider's hint while someone
    watches the render (renders.watching), else the safety net with webhooks or the polling cadence without."""
    render = claim(render_id, AT_PROVIDER, due)
    if render is None:
        return
    key = render.api_key
    sent = render.create_sent_at or render.created_at
    if timezone.now() - sent > timedelta(seconds=settings.RENDER_TRACK_DEADLINE_SECONDS):
        mark_failed(render, "deadline", source="poll")
        return
    wait = limiter.acquire_request(key.pk)
    if wait > 0:
        return release(render, status=AT_PROVIDER, after=timing.slot_wait(wait, key))
    try:
        with provider_client(key) as client:
            video = client.retrieve(render.provider_video_id)
    except VideoNotFound as exc:
        return mark_failed(render, "not_found", exc.message, source="poll", request_id=exc.request_id)
    except RateLimited as exc:
        return release(render, status=AT_PROVIDER, after=_rate_limited(key, exc))
    except (InvalidKey, OutOfCredit) as exc:
        # the job exists and is billed: wait for the key to be fixed (until the deadline), only its key can see it
        wait = _key_refused(key, exc)
        _note_once(render, EventKind.WAIT, f"The provider refused the key {key.name} ({exc.message}); checking on "
                   "the job again once the key works.", source="poll", request_id=exc.request_id)
        return release(render, status=AT_PROVIDER, after=wait)
    except ProviderError as exc:
        # keep asking (with backoff) until the deadline: the job exists and is billed either way
        attempts = render.attempts + 1
        render.note(EventKind.RETRY, f"Checking on the job failed ({exc.message}); trying again.", source="poll",
                    request_id=exc.request_id)
        return release(render, status=AT_PROVIDER, after=timing.retry_delay(attempts), attempts=attempts)
    apply_video(render, video, source="poll")
    render.refresh_from_db()
    release(render, status=AT_PROVIDER, after=timing.next_poll_delay(render, video.poll_after_ms),
            attempts=render.attempts + 1)


def apply_webhook(delivery_id):
    """A verified webhook said the job changed: fetch the job with the render's key and apply it. A webhook
    for a video no render has yet stays unapplied; take_video_id enqueues it when a render takes that id."""
    delivery = WebhookDelivery.objects.select_related("api_key").filter(pk=delivery_id).first()
    if delivery is None or delivery.applied_at is not None:
        return
    render = Render.objects.select_related("api_key").filter(
        api_key=delivery.api_key, provider_video_id=delivery.video_id).first()
    if render is None:
        log.info("webhook %s: no render has the video %s yet; kept", delivery.webhook_id, delivery.video_id)
        return
    if not WebhookDelivery.objects.filter(pk=delivery.pk, applied_at__isnull=True).update(
            applied_at=timezone.now(), render=render):
        return  # another worker applied it
    render.note(EventKind.WEBHOOK, f"Webhook {delivery.event_type or 'event'} received (webhook-id "
                f"{delivery.webhook_id}).", source="webhook")
    if render.status not in (*AT_PROVIDER, Status.SENDING):
        return  # already storing or final: nothing the provider can tell us
    key = render.api_key
    wait = limiter.acquire_request(key.pk)
    if wait > 0:  # the poll picks it up as soon as the limiter allows
        render.update_if(status=AT_PROVIDER, next_attempt_at=timing.after(timing.slot_wait(wait, key)))
        return
    try:
        with provider_client(key) as client:
            video = client.retrieve(delivery.video_id)
    except ProviderError as exc:
        if isinstance(exc, RateLimited):
            wait = _rate_limited(key, exc)
        elif isinstance(exc, (InvalidKey, OutOfCredit)):
            wait = _key_refused(key, exc)
        else:
            wait = timing.retry_delay(1)
        render.note(EventKind.RETRY, f"Fetching the job after the webhook failed ({exc.message}); polling instead.",
                    source="webhook", request_id=exc.request_id)
        render.update_if(status=AT_PROVIDER, next_attempt_at=timing.after(wait))
        return
    apply_video(render, video, source="webhook")


# --- download ----------------------------------------------------------------------------------------

class HeartbeatFile:
    """A file object that refreshes the render's heartbeat while a long download streams into it, and stops the
    download (LostClaim) once the claim no longer holds the render."""

    def __init__(self, fileobj, render):
        self.fileobj = fileobj
        self.render = render
        self.beat = time.monotonic()

    def write(self, data):
        if time.monotonic() - self.beat > settings.RENDER_HEARTBEAT_SECONDS:
            self.beat = time.monotonic()
            if not self.render.holds():
                raise LostClaim(f"render {self.render.pk} was taken over during its download")
        return self.fileobj.write(data)


def stored_duration(field):
    """Seconds of video in the stored MP4, read from the file itself (constant memory)."""
    scanner = Mp4Scanner()
    with field.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            scanner.feed(chunk)
    return scanner.finish()


def part_file(render, variant):
    """Where a download streams to before it is complete: a file of this attempt's own (named with its claim token),
    so two holders of one render never write the same bytes. The parts that earlier attempts left (a killed worker's)
    are removed as this one starts; housekeeping removes any other (renders.housekeeping.sweep_part_files)."""
    folder = settings.RENDER_DOWNLOAD_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"render-{render.pk}-{variant}-*.part"):
        old.unlink(missing_ok=True)  # a writer still holding it open (frozen) keeps an unlinked file of its own
    return folder / f"render-{render.pk}-{variant}-{render.fence}.part"


def download(render_id, due=None):
    """Copy the video, thumbnail and spritesheet into storage (each only once), read the delivered duration
    from the stored MP4, complete and settle. A failure retries only the download, never the create."""
    render = claim(render_id, [Status.DOWNLOADING], due)
    if render is None:
        return
    try:
        for variant in VARIANTS:
            if not store_variant(render, variant):
                return
        finish_download(render)
    except ProviderError as exc:
        download_failed(render, exc)
    except LostClaim as exc:
        log.warning("%s; this worker stopped it", exc)


def store_variant(render, variant):
    """Stream one variant (video, thumbnail or spritesheet) of the job into storage, unless an earlier try stored
    it. Returns whether the download goes on; False when it stopped here (the assets expired, the limiter asked
    to wait, or the render left downloading meanwhile). Provider errors propagate to `download_failed`."""
    field_name, _type, filename = VARIANTS[variant]
    if getattr(render, field_name):
        return True
    key = render.api_key
    if render.provider_expires_at and render.provider_expires_at <= timezone.now():
        mark_failed(render, "expired", source="worker")
        return False
    wait = limiter.acquire_request(key.pk)
    if wait > 0:
        release(render, status=Status.DOWNLOADING, after=timing.slot_wait(wait, key))
        return False
    if not render.holds():  # still here, next file
        raise LostClaim(f"render {render.pk} was taken over between two files")
    storage = getattr(render, field_name).storage
    part = part_file(render, variant)
    try:
        with open(part, "w+b") as tmp, provider_client(key) as client:
            result = client.download(render.provider_video_id, HeartbeatFile(tmp, render), variant=variant)
            tmp.seek(0)
            # only complete files reach storage, each under a name of its own (never over another's)
            name = storage.save(asset_path(render, filename), File(tmp, name=filename))
    finally:
        part.unlink(missing_ok=True)  # never a partial file left behind by a download that ended
    stored = render.held_rows().filter(status=Status.DOWNLOADING, **{field_name: ""}).update(
        **{field_name: name}, attempts=0, updated_at=timezone.now())  # progress: the tries start afresh
    if not stored:  # canceled by an expiry, or another worker stored this file first (or took over): keep theirs
        storage.delete(name)
        render.refresh_from_db()
        if render.taken_over:
            raise LostClaim(f"render {render.pk} was taken over during its download")
        return render.status == Status.DOWNLOADING
    setattr(render, field_name, name)
    render.attempts = 0
    render.note(EventKind.REQUEST, f"Stored the {variant} ({result.bytes:,} bytes).", source="worker",
                request_id=result.request_id)
    return True


def finish_download(render):
    """Every variant is stored: read the delivered duration from the stored video, complete and settle. A video
    that does not parse is removed and downloaded again (an IncompleteDownload)."""
    try:
        duration = stored_duration(render.video)
    except (Mp4Error, OSError) as exc:
        name = render.video.name
        if not render.update_if(status=Status.DOWNLOADING, video=""):
            raise LostClaim(f"render {render.pk} was taken over while its video was checked") from None
        render.video.storage.delete(name)
        raise IncompleteDownload(f"the stored video does not parse: {exc}") from None
    if complete_render(render, Decimal(str(duration)).quantize(Decimal("0.001"))):
        watching.forget(render)


def download_failed(render, exc):
    """A download step failed: wait (a rate limit, a refused key), fail (the job is gone), or try again with
    backoff up to RENDER_MAX_ATTEMPTS (an incomplete download, a provider fault)."""
    key = render.api_key
    if isinstance(exc, RateLimited):
        release(render, status=Status.DOWNLOADING, after=_rate_limited(key, exc))
    elif isinstance(exc, VideoNotFound):
        expired = exc.code == "video_expired" or (
            render.provider_expires_at and render.provider_expires_at <= timezone.now())
        mark_failed(render, "expired" if expired else "not_found", exc.message, source="worker",
                    request_id=exc.request_id)
    elif isinstance(exc, (InvalidKey, OutOfCredit)):
        # the job is billed: wait for the key to be fixed (until the assets expire), only its key can fetch them
        wait = _key_refused(key, exc)
        _note_once(render, EventKind.WAIT, f"The provider refused the key {key.name} ({exc.message}); the download "
                   "resumes once the key works.", source="worker", request_id=exc.request_id)
        release(render, status=Status.DOWNLOADING, after=wait)
    elif isinstance(exc, ProviderUnreachable) and render.provider_expires_at:
        # the job is billed and its assets keep until they expire (the reconciler ends it then): wait for the provider
        key.record_error(exc)
        _note_once(render, EventKind.WAIT, f"The provider could not be reached ({exc.message}); the download resumes "
                   "once it answers.", source="worker")
        release(render, status=Status.DOWNLOADING, after=timing.jitter(settings.RENDER_KEY_RETRY_SECONDS))
    else:
        attempts = render.attempts + 1
        if attempts >= settings.RENDER_MAX_ATTEMPTS:
            mark_failed(render, "download_failed", exc.message, source="worker", request_id=exc.request_id)
            return
        wait = timing.retry_delay(attempts)
        render.note(EventKind.RETRY, f"The download failed ({exc.message}); try {attempts + 1} in {wait:.1f} s.",
                    source="worker", request_id=exc.request_id)
        release(render, status=Status.DOWNLOADING, after=wait, attempts=attempts)


def remove_files(render_id):
    """Remove a deleted render's stored files (the row, events and lineage stay)."""
    render = Render.objects.filter(pk=render_id, deleted_at__isnull=False).first()
    if render is None:
        return
    for name in ("video", "thumbnail", "spritesheet", "reference_image"):
        field = getattr(render, name)
        if field:
            field.storage.delete(field.name)
            Render.objects.filter(pk=render.pk).update(**{name: ""})


# --- dispatch ----------------------------------------------------------------------------------------

# the step that each status is waiting for
STEP_TASKS = {
    Status.SUBMITTING: "create_render", Status.WAITING: "create_render",
    Status.QUEUED: "poll_render", Status.IN_PROGRESS: "poll_render",
    Status.DOWNLOADING: "download_render",
}


def dispatch_due():
    """Turn due waits into tasks: renders whose next_attempt_at has come and that no worker holds. Each is
    claimed by pushing its next_attempt_at one lease ahead (a conditional UPDATE), so a render is sent once
    per lease even with several beats, and again if its message was lost. Returns how many were sent."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.RENDER_DISPATCH_LEASE_SECONDS)
    due = (
        Render.objects.filter(next_attempt_at__lte=now, status__in=list(STEP_TASKS), heartbeat_at__isnull=True)
        .order_by("next_attempt_at")
        .values_list("pk", "status", "next_attempt_at")[: settings.RENDER_DISPATCH_BATCH]
    )
    sent = 0
    for pk, status, due_at in due:
        if not Render.objects.filter(pk=pk, next_attempt_at=due_at).update(next_attempt_at=lease):
            continue
        try:
            enqueue.send(STEP_TASKS[status], pk, timing.due_token(lease))  # only this message may claim it
        except Exception:  # the broker is down (e.g. Redis restarting): due again at the next tick, not a lease later
            Render.objects.filter(pk=pk, next_attempt_at=lease).update(next_attempt_at=due_at)
            log.warning("dispatch: the broker refused the task of render %s; trying again at the next tick", pk,
                        exc_info=True)
            break
        sent += 1
    return sent
