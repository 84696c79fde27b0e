"""The worker's steps: send the create, poll, fetch after a webhook, store the assets, dispatch due work.

Each step re-reads the render, claims it with a conditional UPDATE (the heartbeat: a worker holds it) and
returns quietly when there is nothing to do, so a duplicate or late message is harmless. A step that has to
wait never sleeps: it sets `next_attempt_at`, which the periodic dispatcher turns into the next task. Every
message carries the `next_attempt_at` it was sent for (its `due`), and only that one may claim the render: a
stale duplicate cannot cut a backoff or a rate-limit wait short.

What each provider error does (issue 8): a rate limit pauses the key for every worker until the provider's wait
plus jitter; out of credit and an invalid key mark the key at once, and renders not yet created move to another
usable key or wait for one (a remix only for its parent's key), while jobs already accepted go on being tracked
and stored with their own key, which waits for the key when it is refused; 5xx, connect errors and timeouts
are retried with exponential backoff and jitter, then fail with a reason (refunded); a create whose outcome is
unknown is never sent again (the reconciler decides); 400, 404 and moderation fail at once with the provider's
words, refunded.
"""

import functools
import logging
import operator
import random
import time
from dataclasses import dataclass
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
    IncompleteDownload,
    InvalidKey,
    InvalidRequest,
    ModelNotFound,
    Moderated,
    OutcomeUnknown,
    OutOfCredit,
    ProviderError,
    RateLimited,
    VideoNotFound,
)
from providers.models import ApiKey, KeyState
from providers.mp4 import Mp4Error, Mp4Scanner
from renders import services
from renders.models import VARIANTS, EventKind, Render, WebhookDelivery, asset_path
from renders.states import AT_PROVIDER, NOT_SENT, Status

log = logging.getLogger(__name__)


def _after(seconds):
    return timezone.now() + timedelta(seconds=float(seconds))


def _stale_before():
    return timezone.now() - timedelta(seconds=settings.RENDER_HEARTBEAT_STALE_SECONDS)


def claim(render_id, statuses, due=None):
    """Hold the render for this worker: a conditional UPDATE that only one worker wins while the render
    has one of `statuses` and no live worker holds it. Returns the render, or None (nothing to do).

    `due` (an ISO timestamp, from the message) is the next_attempt_at the message was sent for: when given, the
    render must still have it, so a message that a newer wait (a backoff, a rate-limit pause) or a newer dispatch
    has made stale claims nothing."""
    now = timezone.now()
    rows = Render.objects.filter(pk=render_id, status__in=statuses)
    if due is not None:
        rows = rows.filter(next_attempt_at=services.parse_due(due))
    claimed = (
        rows.filter(Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=_stale_before()))
        .update(heartbeat_at=now, next_attempt_at=None)
    )
    if not claimed:
        return None
    return Render.objects.select_related("api_key", "remix_of", "project").get(pk=render_id)


def release(render, *, status, after=None, **fields):
    """Let go of the render: clear the heartbeat and set the next attempt, if it still has `status`."""
    render.update_if(status=status, heartbeat_at=None, next_attempt_at=_after(after) if after is not None else None,
                     **fields)


def _jitter(wait):
    # not every render (nor every worker) comes back at the same instant
    return wait + random.uniform(0, max(wait * 0.1, 0.2))


def _slot_wait(wait, *keys):
    """Our own limiter's wait for a request slot, with a jitter of at most one slot's spacing (60 s / rpm): the slot
    frees at an exact time, and every second of lateness shifts the key's rolling minute and costs throughput."""
    rpm = max((key.rpm_limit for key in keys), default=0)
    return wait + random.uniform(0, 60 / rpm if rpm else 0.2)


def _rate_limited(key, exc):
    """A 429 rate limit: pause the key for every worker until the provider's wait plus jitter; returns the wait."""
    wait = _jitter(exc.retry_after if exc.retry_after is not None else settings.RENDER_RETRY_BASE_SECONDS)
    limiter.pause(key.pk, wait, f"rate limited: {exc}")
    return wait


def _key_refused(key, exc):
    """The provider refused the key itself on a call about an accepted job (401, or a billing error): mark the key,
    and return the seconds to wait for someone to fix it. Not a fault of the job: no try is counted against it."""
    if isinstance(exc, InvalidKey):
        key.mark_invalid(exc)
    else:
        key.mark_out_of_credit(exc)
    return _jitter(settings.RENDER_KEY_RETRY_SECONDS)


@functools.cache
def _ssl_context():
    # httpx builds a fresh SSL context (reading the whole CA bundle) for every client: 100+ ms of CPU a call
    return httpx.create_ssl_context()


def provider_client(key):
    """A VideoClient for the key, on a transport that shares this process's SSL context."""
    return key.client(transport=httpx.HTTPTransport(verify=_ssl_context()))


# --- keys --------------------------------------------------------------------------------------------

@dataclass
class KeyChoice:
    key: ApiKey | None = None
    wait: float = 0.0
    reason: str = ""


def key_pool(render):
    """The keys a render may use: a remix only its parent's key (the only one that can see the video);
    else the keys dedicated to its project, or, when it has none, the default pool (keys with no project)."""
    if render.remix_of_id:
        return [render.remix_of.api_key] if render.remix_of.api_key_id else []
    keys = ApiKey.objects.filter(projects=render.project_id)
    if not keys.exists():
        keys = ApiKey.objects.filter(projects__isnull=True)
    return list(keys.order_by("pk"))


def choose_key(render):
    """A key that takes new work, with a job slot and a request slot taken from the shared limiter."""
    pool = key_pool(render)
    if not pool:
        return KeyChoice(wait=settings.RENDER_KEY_RETRY_SECONDS, reason="No provider key serves this project.")
    # a key paused by a 429 is still usable: the limiter answers with the rest of its pause
    usable = [key for key in pool if key.takes_new_work or key.state == KeyState.RATE_LIMITED]
    if render.remix_of_id:
        usable = [key for key in usable if key.can_remix_endpoint or key.can_remix_by_create]
    if not usable:
        states = "; ".join(f"{key.name} is {key.get_state_display().lower()}" for key in pool)
        hint = " (a remix can only use its parent's key)" if render.remix_of_id else ""
        return KeyChoice(wait=settings.RENDER_KEY_RETRY_SECONDS, reason=f"Waiting for a usable key{hint}: {states}.")
    # the least busy key first, so the load spreads over the pool
    usable.sort(key=lambda key: limiter.jobs_in_flight(key.pk))
    waits, busy = [], []
    for key in usable:
        if not limiter.acquire_job_slot(key.pk):
            busy.append(key.name)
            continue
        wait = limiter.acquire_request(key.pk)
        if wait > 0:
            limiter.release_job_slot(key.pk)
            waits.append(wait)
            continue
        return KeyChoice(key=key)
    if waits:
        # the first request slot to free: the render is next in line (the job slot it gave back is still free)
        return KeyChoice(wait=_slot_wait(min(waits), *usable), reason="Waiting for the provider's rate limit.")
    # Every job slot is taken. A slot that frees wakes the render waiting longest at once (services.release_slot),
    # so this is only the fallback look: spread over the queue of renders waiting for these keys, at the pace their
    # slots can take them, so that a long queue does not come back all at once, every few seconds, for nothing.
    slots = sum(key.max_concurrent for key in usable) or 1
    pace = settings.RENDER_KEY_RETRY_SECONDS / slots
    wait = _jitter(settings.RENDER_KEY_RETRY_SECONDS) + random.uniform(0, _waiting_creates(usable) * pace)
    return KeyChoice(wait=wait, reason=f"Waiting for a free slot: {', '.join(busy)} at the concurrency limit.")


def _waiting_creates(keys):
    """How many renders are waiting to be created by these keys (no worker holds them, a next attempt ahead)."""
    from providers.incidents import pool_filter

    served = functools.reduce(operator.or_, (pool_filter(key) for key in keys))
    return Render.objects.filter(status__in=NOT_SENT, heartbeat_at__isnull=True,
                                 next_attempt_at__gt=timezone.now()).filter(served).count()


# --- create ------------------------------------------------------------------------------------------

def send_create(render_id, due=None):
    """Claim the render, take a key, store what the create will be BEFORE the POST, POST once, keep the id.
    When the outcome is unknown (sent, no answer) the create is never sent again: the reconciler settles it."""
    render = claim(render_id, NOT_SENT, due)
    if render is None:
        return
    choice = choose_key(render)
    if choice.key is None:
        return wait_for_key(render, choice)
    key = choice.key
    now = timezone.now()
    with transaction.atomic():
        moved = render.move(
            Status.SENDING, source="worker", event_kind=EventKind.STATUS,
            message=f"Sending the create to the provider with the key {key.name}.",
            api_key=key, job_slot_held=True, create_sent_at=now, prompt_hash=services.prompt_hash(render.prompt),
            heartbeat_at=now, next_attempt_at=None, attempts=render.attempts,
        )
    if not moved:  # canceled meanwhile: nothing was sent
        limiter.release_job_slot(key.pk)
        return
    try:
        with provider_client(key) as client:
            if render.remix_of_id:
                by = "endpoint" if key.can_remix_endpoint else "create"
                video = client.remix(render.remix_of.provider_video_id, render.prompt, by=by)
            else:
                video = client.create(prompt=render.prompt, model=render.model, size=render.size,
                                      seconds=str(render.seconds), input_reference=_reference(render))
    except OutcomeUnknown as exc:
        with transaction.atomic():
            render.update_if(status=Status.SENDING, heartbeat_at=None, error_code="outcome_unknown",
                             error_message=services.plain_error("outcome_unknown"))
            render.note(EventKind.ERROR, f"The create was sent but no answer came back ({exc.message}). It is never "
                        "sent twice: the reconciler will look for the job in the provider's list.",
                        source="worker", request_id=exc.request_id)
        return
    except ProviderError as exc:
        return create_refused(render, key, exc)
    services.take_video_id(render, video, source="worker")


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
    max_wait = getattr(settings, "QUOTA_MAX_KEY_WAIT_SECONDS", 3600)
    if timezone.now() - render.created_at > timedelta(seconds=max_wait):
        services.mark_failed(render, "no_usable_key", choice.reason, source="worker")
        return
    with transaction.atomic():
        if render.status == Status.SUBMITTING:
            services.transition(render, Status.WAITING, source="worker", event_kind=EventKind.WAIT,
                                message=choice.reason, heartbeat_at=None, next_attempt_at=_after(choice.wait),
                                attempts=render.attempts)
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
        return services.mark_failed(render, "moderation_blocked", exc.message, source="worker", request_id=request_id)
    if isinstance(exc, ModelNotFound):
        return services.mark_failed(render, "model_not_found", exc.message, source="worker", request_id=request_id)
    if isinstance(exc, (InvalidRequest, VideoNotFound)):
        code = "not_found" if isinstance(exc, VideoNotFound) else "invalid_request"
        return services.mark_failed(render, code, exc.message, source="worker", request_id=request_id)
    attempts = render.attempts
    if isinstance(exc, RateLimited):
        wait = _rate_limited(key, exc)
        reason = f"The key {key.name} is rate limited; trying again in {wait:.0f} s."
    elif isinstance(exc, OutOfCredit):
        key.mark_out_of_credit(exc)
        wait, reason = 0, f"The key {key.name} is out of credit; trying another key."
    elif isinstance(exc, InvalidKey):
        key.mark_invalid(exc)
        wait, reason = 0, f"The key {key.name} was refused by the provider (invalid); trying another key."
    else:  # a provider fault before the job existed: back off, then give up with a reason
        key.record_error(exc)
        attempts += 1
        if attempts >= settings.RENDER_MAX_ATTEMPTS:
            return services.mark_failed(render, "provider_unavailable", exc.message, source="worker",
                                        request_id=request_id)
        wait = services.retry_delay(attempts)
        reason = f"The provider failed ({exc.message}); try {attempts + 1} in {wait:.0f} s."
    fields = {"create_sent_at": None, "heartbeat_at": None, "next_attempt_at": _after(wait), "attempts": attempts}
    if not render.remix_of_id:
        fields["api_key"] = None  # no job exists: the next try may use another key of the pool
    services.transition(render, Status.WAITING, source="worker", event_kind=EventKind.RETRY, message=reason,
                        request_id=request_id, **fields)


# --- track -------------------------------------------------------------------------------------------

def poll(render_id, due=None):
    """Ask the provider about a job (the polling safety net), apply the news, schedule the next poll."""
    render = claim(render_id, AT_PROVIDER, due)
    if render is None:
        return
    key = render.api_key
    sent = render.create_sent_at or render.created_at
    if timezone.now() - sent > timedelta(seconds=settings.RENDER_TRACK_DEADLINE_SECONDS):
        services.mark_failed(render, "deadline", source="poll")
        return
    wait = limiter.acquire_request(key.pk)
    if wait > 0:
        return release(render, status=AT_PROVIDER, after=_slot_wait(wait, key))
    try:
        with provider_client(key) as client:
            video = client.retrieve(render.provider_video_id)
    except VideoNotFound as exc:
        return services.mark_failed(render, "not_found", exc.message, source="poll", request_id=exc.request_id)
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
        return release(render, status=AT_PROVIDER, after=services.retry_delay(attempts), attempts=attempts)
    services.apply_video(render, video, source="poll")
    render.refresh_from_db()
    release(render, status=AT_PROVIDER, after=services.next_poll_delay(render, video.poll_after_ms),
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
        render.update_if(status=AT_PROVIDER, next_attempt_at=_after(_slot_wait(wait, key)))
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
            wait = services.retry_delay(1)
        render.note(EventKind.RETRY, f"Fetching the job after the webhook failed ({exc.message}); polling instead.",
                    source="webhook", request_id=exc.request_id)
        render.update_if(status=AT_PROVIDER, next_attempt_at=_after(wait))
        return
    services.apply_video(render, video, source="webhook")


# --- download ----------------------------------------------------------------------------------------

class HeartbeatFile:
    """A file object that refreshes the render's heartbeat while a long download streams into it."""

    def __init__(self, fileobj, render_id):
        self.fileobj = fileobj
        self.render_id = render_id
        self.beat = time.monotonic()

    def write(self, data):
        if time.monotonic() - self.beat > settings.RENDER_HEARTBEAT_SECONDS:
            self.beat = time.monotonic()
            Render.objects.filter(pk=self.render_id).update(heartbeat_at=timezone.now())
        return self.fileobj.write(data)


def stored_duration(field):
    """Seconds of video in the stored MP4, read from the file itself (constant memory)."""
    scanner = Mp4Scanner()
    with field.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            scanner.feed(chunk)
    return scanner.finish()


def part_file(render, variant):
    """Where a download streams to before it is complete: one name per render and variant, so a download resumed
    after its worker was killed starts the same file over instead of leaving another one behind."""
    folder = settings.RENDER_DOWNLOAD_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"render-{render.pk}-{variant}.part"


def download(render_id, due=None):
    """Copy the video, thumbnail and spritesheet into storage (each only once), read the delivered duration
    from the stored MP4, complete and settle. A failure retries only the download, never the create."""
    render = claim(render_id, [Status.DOWNLOADING], due)
    if render is None:
        return
    key = render.api_key
    part = None
    try:
        for variant, (field_name, _type, filename) in VARIANTS.items():
            if getattr(render, field_name):
                continue
            if render.provider_expires_at and render.provider_expires_at <= timezone.now():
                return services.mark_failed(render, "expired", source="worker")
            wait = limiter.acquire_request(key.pk)
            if wait > 0:
                return release(render, status=Status.DOWNLOADING, after=_slot_wait(wait, key))
            Render.objects.filter(pk=render.pk).update(heartbeat_at=timezone.now())  # still here, next file
            storage = getattr(render, field_name).storage
            part = part_file(render, variant)
            with open(part, "w+b") as tmp, provider_client(key) as client:  # w+: truncates what a killed run left
                result = client.download(render.provider_video_id, HeartbeatFile(tmp, render.pk), variant=variant)
                tmp.seek(0)
                # only complete files reach storage, each under a name of its own (never over another's)
                name = storage.save(asset_path(render, filename), File(tmp, name=filename))
            part.unlink(missing_ok=True)
            stored = Render.objects.filter(pk=render.pk, status=Status.DOWNLOADING, **{field_name: ""}).update(
                **{field_name: name}, attempts=0, updated_at=timezone.now())  # progress: the tries start afresh
            if not stored:  # canceled by an expiry, or another worker stored this file first: keep theirs
                storage.delete(name)
                render.refresh_from_db()
                if render.status != Status.DOWNLOADING:
                    return
                continue
            setattr(render, field_name, name)
            render.attempts = 0
            render.note(EventKind.REQUEST, f"Stored the {variant} ({result.bytes:,} bytes).", source="worker",
                        request_id=result.request_id)
        try:
            duration = stored_duration(render.video)
        except (Mp4Error, OSError) as exc:
            render.video.storage.delete(render.video.name)
            render.update_if(status=Status.DOWNLOADING, video="")
            raise IncompleteDownload(f"the stored video does not parse: {exc}") from None
        services.complete_render(render, Decimal(str(duration)).quantize(Decimal("0.001")))
    except RateLimited as exc:
        release(render, status=Status.DOWNLOADING, after=_rate_limited(key, exc))
    except VideoNotFound as exc:
        code = "expired" if render.provider_expires_at and render.provider_expires_at <= timezone.now() else "not_found"
        services.mark_failed(render, code, exc.message, source="worker", request_id=exc.request_id)
    except (InvalidKey, OutOfCredit) as exc:
        # the job is billed: wait for the key to be fixed (until the assets expire), only its key can fetch them
        wait = _key_refused(key, exc)
        _note_once(render, EventKind.WAIT, f"The provider refused the key {key.name} ({exc.message}); the download "
                   "resumes once the key works.", source="worker", request_id=exc.request_id)
        release(render, status=Status.DOWNLOADING, after=wait)
    except ProviderError as exc:  # incomplete download, provider fault: try the download again, with a cap
        attempts = render.attempts + 1
        if attempts >= settings.RENDER_MAX_ATTEMPTS:
            return services.mark_failed(render, "download_failed", exc.message, source="worker",
                                        request_id=exc.request_id)
        wait = services.retry_delay(attempts)
        render.note(EventKind.RETRY, f"The download failed ({exc.message}); try {attempts + 1} in {wait:.1f} s.",
                    source="worker", request_id=exc.request_id)
        release(render, status=Status.DOWNLOADING, after=wait, attempts=attempts)
    finally:
        if part is not None:
            part.unlink(missing_ok=True)  # never a partial file left behind by a download that ended


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

def dispatch_due():
    """Turn due waits into tasks: renders whose next_attempt_at has come and that no worker holds. Each is
    claimed by pushing its next_attempt_at one lease ahead (a conditional UPDATE), so a render is sent once
    per lease even with several beats, and again if its message was lost. Returns how many were sent."""
    from renders import tasks

    task_for = {
        Status.SUBMITTING: tasks.create_render, Status.WAITING: tasks.create_render,
        Status.QUEUED: tasks.poll_render, Status.IN_PROGRESS: tasks.poll_render,
        Status.DOWNLOADING: tasks.download_render,
    }
    now = timezone.now()
    lease = now + timedelta(seconds=settings.RENDER_DISPATCH_LEASE_SECONDS)
    due = (
        Render.objects.filter(next_attempt_at__lte=now, status__in=list(task_for), heartbeat_at__isnull=True)
        .order_by("next_attempt_at")
        .values_list("pk", "status", "next_attempt_at")[: settings.RENDER_DISPATCH_BATCH]
    )
    sent = 0
    for pk, status, due_at in due:
        if not Render.objects.filter(pk=pk, next_attempt_at=due_at).update(next_attempt_at=lease):
            continue
        try:
            task_for[status].delay(pk, services.due_token(lease))  # only this message may claim it (its `due`)
        except Exception:  # the broker is down (e.g. Redis restarting): due again at the next tick, not a lease later
            Render.objects.filter(pk=pk, next_attempt_at=lease).update(next_attempt_at=due_at)
            log.warning("dispatch: the broker refused the task of render %s; trying again at the next tick", pk,
                        exc_info=True)
            break
        sent += 1
    return sent
