"""The reconciler (periodic): settles what no single step can.

- Renders whose worker went quiet (its process stopped beating: killed; or a stale heartbeat: hung) are resumed.
  This, not the broker's visibility timeout, recovers a killed worker's work.
- A create whose outcome is unknown (sent, no answer; or the worker died after the POST) is never sent
  again blindly: the key's job list is searched for an unowned job that matches it (model, size, seconds, prompt,
  parent, created within the window), which is adopted; with no match in a complete listing a set time after the
  create it is sent again, and after the last attempt the render fails, its quota and key slot are released, and a
  billing incident keeps what the provider may have billed. While the same renders wait and listings find nothing,
  the key is listed less and less often (listing_due), to spare its rate budget. A key without
  a list waits longer (RENDER_ADOPT_WAIT_SECONDS) for a webhook naming the job, or for staff to adopt the job by
  its id (renders.unknown_outcomes).
- Renders whose assets expired at the provider before they were stored end as failed ("expired").
- In-flight renders that nobody holds and nothing is scheduled for get a next attempt (nothing gets stuck).
- Stored webhook deliveries whose task never ran (the broker was down) are queued again.
- The key's job-slot counter is resynchronised with the renders that hold a slot.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from providers import limiter
from providers.errors import ProviderError
from providers.models import KeyLimit
from renders import enqueue, pipeline, workers
from renders.lifecycle import (
    MAY_HAVE_BILLED,
    lost_answer_plan,
    mark_failed,
    plain_error,
    take_video_id,
    transition,
)
from renders.models import BillingIncident, EventKind, Render, WebhookDelivery, WorkerBeat, prompt_hash
from renders.states import IN_FLIGHT, NOT_SENT, Status

log = logging.getLogger(__name__)

PAGE = 100  # jobs per page of the provider's list (its most)


def reconcile():
    return {
        "resumed": reap_quiet(),
        "adopted_or_failed": settle_unknown_outcomes(),
        "expired": expire_unstored(),
        "rescheduled": reschedule_orphans(),
        "webhooks_requeued": requeue_stranded_webhooks(),
        "slots": resync_job_slots(),
    }


def reap_quiet():
    """Resume the renders whose worker went quiet: held by a worker process that is dead (its beat stopped, within
    seconds: renders.workers), or whose own heartbeat is older than RENDER_HEARTBEAT_STALE_SECONDS (a worker alive
    but stuck, or one that records no beat). A render held by a beating worker is left alone however long its
    download has been silent. Runs on its own short beat entry (RENDER_REAP_INTERVAL_SECONDS) and in reconcile().
    Taking a render clears its claim token: the quiet worker, should it wake (a frozen process resumed), sends and
    writes nothing more for it (Render.fence)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.RENDER_HEARTBEAT_STALE_SECONDS)
    quiet_ones = Q(heartbeat_at__lt=stale)
    if workers.may_judge_others():
        quiet_ones |= Q(claimed_by__in=WorkerBeat.dead().values("name"))
    held = Render.objects.filter(heartbeat_at__isnull=False, status__in=IN_FLIGHT)
    count = 0
    for render in held.filter(quiet_ones).select_related("api_key"):
        with transaction.atomic():
            beat = render.heartbeat_at
            quiet = Render.objects.filter(pk=render.pk, status=render.status, heartbeat_at=beat,
                                          claimed_by=render.claimed_by)
            if render.status == Status.SENDING and not render.provider_video_id:
                # the POST may have left: never send it again; look for the job instead
                if not quiet.update(heartbeat_at=None, claim_token="", error_code="outcome_unknown",
                                    error_message=plain_error("outcome_unknown"), updated_at=now):
                    continue
                render.note(EventKind.ERROR, "The worker went quiet while sending the create; "
                            f"{lost_answer_plan(render.api_key)}.", source="reconciler")
            elif render.status == Status.SENDING:
                # accepted (we have the id) but its first news was never applied: poll it
                render.heartbeat_at = beat
                if not render.move(Status.QUEUED, source="reconciler", message="The worker went quiet after the "
                                   "provider accepted the job; tracking it.", heartbeat_at=None, claim_token="",
                                   next_attempt_at=now):
                    continue
            else:
                if not quiet.update(heartbeat_at=None, claim_token="", next_attempt_at=now, updated_at=now):
                    continue
                render.note(EventKind.RETRY, "The worker went quiet; resuming.", source="reconciler")
            count += 1
    WorkerBeat.forget_gone()
    return count


def mismatches(render, video, sent_at, window):
    """How the provider's job differs from the render's create, in words (empty: it may be the render's job). Fields
    the provider does not show (a relay may leave out the prompt or the creation time) are not held against it."""
    differences = []
    if video.size != render.size:
        differences.append(f"size {video.size} (the render's is {render.size})")
    if str(video.seconds) != str(render.seconds):
        differences.append(f"{video.seconds} s (the render's is {render.seconds} s)")
    if video.model and not (video.model == render.model or video.model.startswith(render.model + "-")):
        differences.append(f"model {video.model} (the render's is {render.model})")
    if video.prompt is not None and prompt_hash(video.prompt) != render.prompt_hash:
        differences.append("another prompt")
    if render.remix_of_id and video.remixed_from_video_id != render.remix_of.provider_video_id:
        differences.append("not a remix of the render's parent")
    if not render.remix_of_id and video.remixed_from_video_id:
        differences.append("a remix, and the render is not")
    if video.created_at is not None:
        # our job was created after we stamped create_sent_at (give or take the clocks' skew), within the window
        offset = video.created_at - sent_at.timestamp()
        if offset < -settings.RENDER_RECONCILE_CLOCK_SKEW_SECONDS or offset > window:
            differences.append("created at another time than the render's create")
    return differences


def settle_unknown_outcomes():
    """Adopt or give up the creates whose outcome is unknown, with a listing of each key's recent jobs when one is due
    (listing_due: at most one per round, fewer while nothing changes). Returns how many renders were settled
    (adopted, sent again or failed)."""
    done = 0
    for key, renders in _unknown_outcomes_by_key().items():
        if not key.has_list_endpoint:
            done += settle_without_listing(key, renders)
            continue
        pace, _ = KeyLimit.objects.get_or_create(key=key)
        listed = _listed(renders)  # before settling them: a render sent again loses its create time
        if not listing_due(pace, renders, listed):
            continue
        listing = list_recent_jobs(key, since=renders[0].create_sent_at.timestamp()
                                   - settings.RENDER_RECONCILE_WINDOW_SECONDS)
        if listing is None:
            continue  # the limiter or the provider said not now: next round
        log.info("reconcile: %d render(s) with an unknown outcome on key %s; %d job(s) listed in the window",
                 len(renders), key.pk, len(listing.videos))
        settled = settle_with_listing(key, renders, listing)
        record_listing(pace, listed, settled)
        done += settled
    return done


def listing_due(pace, renders, listed):
    """Whether this round lists the key's jobs for its `renders` (oldest first; `listed`: their names, _listed), given
    the key's KeyLimit `pace`. A listing that finds nothing for the same renders as the last one costs the key's rate
    budget and decides nothing, so the next one waits (record_listing); but never past a moment when a listing can
    decide something: a render the last listing was not for (its job may be listed already), and the oldest render's
    resend moment (a complete listing then sends it again: its timing must not get slower)."""
    now = timezone.now()
    if pace.next_listing_at is None or not set(listed) <= set(pace.listed_renders):
        return True
    if now >= renders[0].create_sent_at + timedelta(seconds=resend_after()):
        return True
    # rounds come every interval, give or take the queue: a listing due within half a round is taken in this one
    return now >= pace.next_listing_at - timedelta(seconds=settings.RENDER_RECONCILE_INTERVAL_SECONDS / 2)


def record_listing(pace, listed, settled):
    """After a listing of the key's jobs for the renders `listed` (_listed): one that settled any lists again next
    round; one that settled none makes the next wait twice the last gap (from RENDER_RECONCILE_INTERVAL_SECONDS, at
    most RENDER_RECONCILE_LIST_MAX_GAP_SECONDS), starting over when it was for a render the last listing was not for."""
    if settled:
        gap, next_at = 0, None
    else:
        last = pace.listing_gap_seconds if set(listed) <= set(pace.listed_renders) else 0
        gap = min(max(2 * last, settings.RENDER_RECONCILE_INTERVAL_SECONDS),
                  settings.RENDER_RECONCILE_LIST_MAX_GAP_SECONDS)
        next_at = timezone.now() + timedelta(seconds=gap)
    # a plain UPDATE: two overlapping rounds write what they both saw, and the limiter's counter is another column
    KeyLimit.objects.filter(pk=pace.pk).update(next_listing_at=next_at, listing_gap_seconds=gap, listed_renders=listed)


def _listed(renders):
    # a render sent again and lost again is another unknown outcome: its create time is part of its name here
    return [f"{render.pk}@{render.create_sent_at.isoformat()}" for render in renders]


def _unknown_outcomes_by_key():
    """Renders sent a while ago with no job id and no worker holding them, oldest first, by key."""
    sent_before = timezone.now() - timedelta(seconds=settings.RENDER_RECONCILE_AFTER_SECONDS)
    unknown = (
        Render.objects.outcome_unknown().filter(create_sent_at__lte=sent_before)
        .select_related("api_key", "remix_of")
        .order_by("create_sent_at")
    )
    by_key = defaultdict(list)
    for render in unknown:
        by_key[render.api_key].append(render)
    return by_key


@dataclass
class JobListing:
    videos: list
    complete: bool  # False: the limiter stopped the listing before it reached `since`


def list_recent_jobs(key, *, since):
    """The key's jobs created since `since` (a unix time), newest first, each page through the limiter; None when
    the limiter or the provider refuses the first request."""
    if limiter.acquire_request(key.pk) > 0:
        return None
    videos, complete = [], True
    try:
        with pipeline.provider_client(key) as client:
            for video in client.list(limit=PAGE, order="desc"):
                if video.created_at is not None and video.created_at < since:
                    break
                videos.append(video)
                # the next item costs another request (the next page): through the limiter like any other
                if len(videos) % PAGE == 0 and limiter.acquire_request(key.pk) > 0:
                    complete = False
                    break
    except ProviderError as exc:
        log.warning("reconcile: listing the jobs of key %s failed: %s", key.pk, exc)
        return None
    return JobListing(videos, complete)


def settle_with_listing(key, renders, listing):
    """Give each render the listed job that matches it (created nearest to its create, never one a render already
    owns). A render with no job in a complete listing taken long enough after its create (`resend_after`) was never
    made by the provider: it is sent again (`resend`), up to RENDER_MAX_ATTEMPTS creates, then given up. Returns how
    many settled."""
    window = settings.RENDER_RECONCILE_WINDOW_SECONDS
    give_up_before = timezone.now() - timedelta(seconds=resend_after())
    owned = set(Render.objects.filter(api_key=key, provider_video_id__in=[v.id for v in listing.videos])
                .values_list("provider_video_id", flat=True))
    free = sorted((v for v in listing.videos if v.id not in owned), key=lambda v: v.created_at or 0)
    done = 0
    for render in renders:
        sent = render.create_sent_at.timestamp()
        candidates = [v for v in free if not mismatches(render, v, render.create_sent_at, window)]
        # the job created nearest to our POST (renders are taken oldest first, so each gets its own)
        match = min(candidates, key=lambda v: abs((v.created_at or sent) - sent), default=None)
        if match is not None:
            free.remove(match)
            done += adopt(render, match)
        elif listing.complete and render.create_sent_at <= give_up_before:
            # only on the whole list: the job may be on a page this round did not read
            done += resend(render) if render.attempts + 1 < settings.RENDER_MAX_ATTEMPTS else give_up(render)
    return done


def resend_after():
    """Seconds after a create before a listing without its job proves there is none: RENDER_RECONCILE_RESEND_AFTER,
    never less than twice the client's timeout (a create still on its way could otherwise land after the listing)."""
    return max(settings.RENDER_RECONCILE_RESEND_AFTER_SECONDS, 2 * settings.PROVIDER_TIMEOUT_SECONDS)


def resend(render):
    """No job for this render in a complete listing taken `resend_after` its create: the provider never made one, so
    nothing was billed. Back to waiting, its reservation kept, to be sent again at once (on any key of its pool, unless
    it is a remix), as a refused create is. Only while it is still unresolved (as `give_up`)."""
    with transaction.atomic():
        if not Render.objects.filter(pk=render.pk, status=Status.SENDING, provider_video_id="",
                                     heartbeat_at__isnull=True).update(updated_at=timezone.now()):
            return False
        render.refresh_from_db()
        waited = (timezone.now() - render.create_sent_at).total_seconds()
        attempt = render.events.filter(status_to=Status.SENDING).count() + 1  # the creates sent so far, and this one
        fields = {"create_sent_at": None, "heartbeat_at": None, "next_attempt_at": timezone.now(),
                  "attempts": render.attempts + 1, "error_code": "", "error_message": ""}
        if not render.remix_of_id:
            fields["api_key"] = None
        return transition(render, Status.WAITING, source="reconciler", event_kind=EventKind.RETRY,
                          message=f"The provider's complete list shows no job for this render {waited:.0f} s after its "
                                  f"create: the provider never made it (nothing was billed). Sending it again "
                                  f"(attempt {attempt}).", **fields)


def settle_without_listing(key, renders):
    """A key with no list endpoint (many relays): a lost create answer cannot be looked up, and it is never sent
    again. A webhook may bring the job (adopt_from_webhooks), or staff may adopt it by its id (renders.unknown_outcomes)
    until RENDER_ADOPT_WAIT_SECONDS; then the render fails as outcome unknown, refunded, in words that say the provider
    may have billed it (its billing incident keeps the amount for staff to reconcile with the provider)."""
    adopted = adopt_from_webhooks(key, renders)
    give_up_before = timezone.now() - timedelta(seconds=settings.RENDER_ADOPT_WAIT_SECONDS)
    return len(adopted) + sum(give_up(render, message=MAY_HAVE_BILLED) for render in renders
                              if render.pk not in adopted and render.create_sent_at <= give_up_before)


WEBHOOK_JOBS_PER_ROUND = 10  # jobs fetched per key and round, through the limiter


def adopt_from_webhooks(key, renders):
    """A webhook kept for a job no render owns (it arrived before anyone knew the job's id) may be a lost create's: the
    job is fetched with the key and given to the waiting render it matches. Returns the ids of the renders adopted."""
    if not key.has_webhooks:
        return set()
    since = renders[0].create_sent_at - timedelta(seconds=settings.RENDER_RECONCILE_CLOCK_SKEW_SECONDS)
    video_ids = list(dict.fromkeys(  # once each, in the order they came
        WebhookDelivery.objects.filter(api_key=key, applied_at__isnull=True, received_at__gte=since)
        .exclude(video_id="").order_by("received_at").values_list("video_id", flat=True)))
    owned = set(Render.objects.filter(api_key=key, provider_video_id__in=video_ids)
                .values_list("provider_video_id", flat=True))
    waiting, adopted = list(renders), set()
    for video_id in [v for v in video_ids if v not in owned][:WEBHOOK_JOBS_PER_ROUND]:
        if not waiting or limiter.acquire_request(key.pk) > 0:
            break
        try:
            with pipeline.provider_client(key) as client:
                video = client.retrieve(video_id)
        except ProviderError as exc:
            log.warning("reconcile: fetching the job %s of a kept webhook (key %s) failed: %s", video_id, key.pk, exc)
            continue
        match = next((r for r in waiting if not mismatches(r, video, r.create_sent_at,
                                                          settings.RENDER_RECONCILE_WINDOW_SECONDS)), None)
        if match is None:
            continue  # another account's job, or one whose render is settled already
        if adopt(match, video, f"A webhook named the job {video.id}, which matches this render: adopted it (the "
                               "create's answer was lost; it was not sent again)."):
            waiting.remove(match)
            adopted.add(match.pk)
    return adopted


def adopt(render, video, message=None):
    """The render's lost create answer was this job: take its id (it was not sent again)."""
    try:
        return take_video_id(render, video, source="reconciler",
                             message=message or f"Found the job {video.id} in the provider's list and adopted it (the "
                                                "create's answer was lost; it was not sent again).")
    except IntegrityError:  # another render took it at the same moment
        return False


def give_up(render, *, message=None):
    """Fail (and refund) a render whose create has no job after the give-up time, and open its billing incident in
    the same transaction: the provider may still have made (and billed) the job. Only while it is still unresolved:
    another reconciler pass (ticks may overlap), the worker's late answer or staff may have given it its job a moment
    ago, and failing it then would refund a job the provider bills. The conditional UPDATE holds the row until the
    commit, so an adoption running at the same moment waits for it and then finds it failed."""
    with transaction.atomic():
        if not Render.objects.filter(pk=render.pk, status=Status.SENDING, provider_video_id="",
                                     heartbeat_at__isnull=True).update(updated_at=timezone.now()):
            return False
        render.refresh_from_db()
        if not mark_failed(render, "outcome_unknown", source="reconciler", message=message):
            return False
        BillingIncident.open_for(render)
    return True


def expire_unstored():
    count = 0
    for render in Render.objects.filter(status=Status.DOWNLOADING, provider_expires_at__lte=timezone.now(),
                                        heartbeat_at__isnull=True):
        count += mark_failed(render, "expired", source="reconciler")
    return count


def reschedule_orphans():
    """In flight, not held by a worker, nothing scheduled and not an open outcome: give it a next attempt."""
    now = timezone.now()
    return (
        Render.objects.filter(status__in=IN_FLIGHT, heartbeat_at__isnull=True, next_attempt_at__isnull=True)
        .exclude(status=Status.SENDING)
        .filter(Q(status__in=NOT_SENT) | ~Q(provider_video_id=""))
        .update(next_attempt_at=now, updated_at=now)
    )


def requeue_stranded_webhooks():
    """Stored deliveries whose task never ran (the broker refused it, or its message was lost) for a render that has
    the delivery's video: queued again, oldest first. A delivery for a video no render has stays, as before, until a
    render takes that id. Returns how many were queued."""
    settled_before = timezone.now() - timedelta(seconds=settings.RENDER_WEBHOOK_REQUEUE_AFTER_SECONDS)
    owned = Render.objects.filter(api_key_id=OuterRef("api_key_id"), provider_video_id=OuterRef("video_id"))
    stranded = (WebhookDelivery.objects.filter(applied_at__isnull=True, received_at__lte=settled_before)
                .exclude(video_id="").filter(Exists(owned)).order_by("received_at")
                .values_list("pk", flat=True)[:PAGE])
    sent = 0
    for delivery_id in stranded:
        try:
            enqueue.send("apply_webhook", delivery_id)
        except Exception:  # the broker is still down: the next round
            log.warning("reconcile: the broker refused webhook delivery %s; next round", delivery_id, exc_info=True)
            break
        sent += 1
    return sent


def resync_job_slots():
    """The limiter's counter may drift if a worker died between taking a slot and recording it on the render;
    the truth is the renders holding a slot. The counter is read first and the renders after, and the fix is a
    conditional UPDATE on the value read: a slot taken or given back meanwhile makes it a no-op until the next round
    (a fix computed from an older count would otherwise undo a release, or let a key exceed its concurrency)."""
    fixed = 0
    for key_id, counted in KeyLimit.objects.values_list("key_id", "jobs_in_flight"):
        truth = Render.objects.filter(api_key_id=key_id, job_slot_held=True).count()
        if counted != truth and not _creating():
            fixed += KeyLimit.objects.filter(key_id=key_id, jobs_in_flight=counted).update(jobs_in_flight=truth)
    return fixed


def _creating():
    # renders being claimed for a create right now (a key is being chosen): the counter may be ahead of
    # the renders for a moment, so leave it alone this round
    fresh = timezone.now() - timedelta(seconds=settings.RENDER_HEARTBEAT_STALE_SECONDS)
    return Render.objects.filter(status__in=NOT_SENT, heartbeat_at__gte=fresh).exists()
