"""The limiter every worker shares: requests per minute, jobs in flight, and pauses, per API key.

All of it lives in the database and changes only by conditional UPDATE, so it is correct with any
number of worker processes and hosts, on PostgreSQL and on SQLite, without SELECT FOR UPDATE or locks
in Python: an UPDATE whose WHERE no longer holds (another worker got there first) changes 0 rows.

Requests: a rolling window, counted like a provider counts "requests per minute". A key has rpm_limit
slot rows (RequestSlot); a request takes a slot whose last use is more than 60 s old
(`UPDATE ... SET used_at = now WHERE id = %s AND used_at <= now - 60 s`). So a burst of up to rpm_limit
requests goes out at once, and in ANY 60 s window there are never more than rpm_limit (a token bucket
would allow up to twice that right after a burst, which a provider counting a rolling minute answers with
429s). When no slot is free, the wait is exact: the oldest slot's use + 60 s (and WINDOW_MARGIN) - now.
Lowering rpm_limit simply ignores the slots numbered past it; raising it adds rows.

Pauses: ApiKey.paused_until (set by `pause()` after a 429) stops every request on the key, for every
worker, until then. Jobs: KeyLimit.jobs_in_flight, kept under ApiKey.max_concurrent.

A limit of 0 (rpm_limit or max_concurrent) means "no limit of our own" (jobs are still counted).
Times are the workers' clocks (UTC; NTP keeps hosts within milliseconds of each other).
"""

import random
from datetime import UTC, datetime, timedelta

from django.db.models import Case, Count, F, Min, Q, Value, When
from django.utils import timezone

from providers.models import ApiKey, KeyLimit, KeyState, RequestSlot

# A provider counts a request when it arrives, a moment after we took its slot, and that moment varies: a slot is
# free again only after the minute plus this margin, so a request never reaches a provider whose own rolling
# minute still holds the one it replaces (which it would answer with a 429).
WINDOW_MARGIN = timedelta(seconds=0.5)
WINDOW = timedelta(seconds=60) + WINDOW_MARGIN
NEVER_USED = datetime(2000, 1, 1, tzinfo=UTC)
MIN_WAIT = 0.05  # seconds: never tell a caller to wait 0 when it did not get a slot
MAX_TRIES = 64  # contenders that lose a race try another free slot; each round someone wins


def acquire_request(key_id) -> float:
    """0.0 when a request slot on the key was taken just now (send the request), else the seconds to wait
    (the key is paused, or rpm_limit requests went out in the last 60 s). Call again after the wait."""
    now = timezone.now()
    key = ApiKey.objects.filter(pk=key_id).values("rpm_limit", "paused_until", "state").first()
    if key is None:
        raise ApiKey.DoesNotExist(f"no API key {key_id}")
    if key["paused_until"] and key["paused_until"] > now:
        return max((key["paused_until"] - now).total_seconds(), MIN_WAIT)
    if key["state"] == KeyState.RATE_LIMITED:
        # the pause is over: the first worker to notice puts the key back to work
        ApiKey.objects.filter(pk=key_id, state=KeyState.RATE_LIMITED).filter(
            Q(paused_until__isnull=True) | Q(paused_until__lte=now)
        ).update(state=KeyState.ACTIVE)
    rpm = key["rpm_limit"]
    if not rpm:
        return 0.0
    cutoff = now - WINDOW
    free = RequestSlot.objects.filter(key_id=key_id, n__lt=rpm, used_at__lte=cutoff)
    slots_checked = False
    for _ in range(MAX_TRIES):
        # a random free slot, so that concurrent workers seldom race for the same row
        candidates = list(free.values_list("pk", flat=True)[:16])
        if not candidates:
            summary = RequestSlot.objects.filter(key_id=key_id, n__lt=rpm).aggregate(
                count=Count("pk"), oldest=Min("used_at")
            )
            if summary["count"] < rpm and not slots_checked:
                _add_slots(key_id, rpm)
                slots_checked = True
                continue
            if summary["oldest"] is None or summary["oldest"] <= cutoff:
                continue  # another worker added the slots between our two reads: try them
            return max((summary["oldest"] + WINDOW - timezone.now()).total_seconds(), MIN_WAIT)
        pk = random.choice(candidates)
        if RequestSlot.objects.filter(pk=pk, used_at__lte=cutoff).update(used_at=now):
            return 0.0
    return MIN_WAIT


def _add_slots(key_id, rpm):
    RequestSlot.objects.bulk_create(
        [RequestSlot(key_id=key_id, n=n, used_at=NEVER_USED) for n in range(rpm)], ignore_conflicts=True
    )


def pause(key_id, seconds, reason=""):
    """Pause every request on the key, for every worker, until now + seconds (a 429's retry-after).
    Never shortens a longer pause already in place. An active key shows as rate limited meanwhile; a key
    that is out of credit, invalid, disabled or draining keeps that state. Returns the pause's end."""
    now = timezone.now()
    until = now + timedelta(seconds=max(float(seconds), 0.0))
    values = {
        "paused_until": until,
        "state": Case(
            When(state__in=[KeyState.ACTIVE, KeyState.RATE_LIMITED], then=Value(KeyState.RATE_LIMITED)),
            default=F("state"),
        ),
        "updated_at": now,
    }
    if reason:
        values.update(last_error=str(reason)[:500], last_error_at=now)
    ApiKey.objects.filter(pk=key_id).filter(Q(paused_until__isnull=True) | Q(paused_until__lt=until)).update(
        **values
    )
    return ApiKey.objects.filter(pk=key_id).values_list("paused_until", flat=True).first()


def resume(key_id):
    """End a pause now (an admin's decision; pauses also simply run out)."""
    ApiKey.objects.filter(pk=key_id).update(
        paused_until=None,
        state=Case(When(state=KeyState.RATE_LIMITED, then=Value(KeyState.ACTIVE)), default=F("state")),
        updated_at=timezone.now(),
    )


def acquire_job_slot(key_id) -> bool:
    """Take one of the key's max_concurrent job slots: True if taken (call release_job_slot when the job
    ends, completed or failed, or when the create did not produce a job), False if the key is full."""
    limit = ApiKey.objects.filter(pk=key_id).values_list("max_concurrent", flat=True).first()
    if limit is None:
        raise ApiKey.DoesNotExist(f"no API key {key_id}")
    rows = KeyLimit.objects.filter(key_id=key_id)
    if limit:
        rows = rows.filter(jobs_in_flight__lt=limit)
    if rows.update(jobs_in_flight=F("jobs_in_flight") + 1):
        return True
    if _ensure_row(key_id):
        return bool(rows.update(jobs_in_flight=F("jobs_in_flight") + 1))
    return False


def release_job_slot(key_id):
    """Give a job slot back; never below 0 (a double release is harmless)."""
    KeyLimit.objects.filter(key_id=key_id, jobs_in_flight__gt=0).update(jobs_in_flight=F("jobs_in_flight") - 1)


def jobs_in_flight(key_id) -> int:
    return KeyLimit.objects.filter(key_id=key_id).values_list("jobs_in_flight", flat=True).first() or 0


def set_jobs_in_flight(key_id, count):
    """Resynchronise the counter with the truth (the renders in flight on the key), e.g. after a worker
    was killed between acquire_job_slot and release_job_slot. Meant for the periodic reaper."""
    _ensure_row(key_id)
    KeyLimit.objects.filter(key_id=key_id).update(jobs_in_flight=max(int(count), 0))


def usage(key_id) -> dict:
    """Headroom for dashboards: requests in the last minute, jobs in flight, and the pause."""
    now = timezone.now()
    key = ApiKey.objects.filter(pk=key_id).values("rpm_limit", "max_concurrent", "paused_until").first()
    if key is None:
        raise ApiKey.DoesNotExist(f"no API key {key_id}")
    used = RequestSlot.objects.filter(key_id=key_id, n__lt=key["rpm_limit"], used_at__gt=now - WINDOW).count()
    paused = key["paused_until"] if key["paused_until"] and key["paused_until"] > now else None
    return {
        "requests_last_minute": used,
        "rpm_limit": key["rpm_limit"],
        "jobs_in_flight": jobs_in_flight(key_id),
        "max_concurrent": key["max_concurrent"],
        "paused_until": paused,
    }


def _ensure_row(key_id):
    """Create the key's KeyLimit row if it is missing; True if it exists now."""
    if KeyLimit.objects.filter(key_id=key_id).exists():
        return False
    KeyLimit.objects.bulk_create([KeyLimit(key_id=key_id)], ignore_conflicts=True)
    return True
