"""What staff do to provider keys: add, edit, enable, disable, drain (rotation), acknowledge a top-up, test.

State changes use the key's own conditional UPDATEs (providers.models.ApiKey): a worker may mark the key out of
credit while a staff page is open, and a stale form must never write an old state back. Edits save only the
fields the form changed, for the same reason. Every action writes an audit entry.

A key that takes new work again is announced (providers.signals.key_available): the apps above wake the work
waiting for it, and the number they woke is what the staff page reports.
"""

import itertools
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from providers import audit, incidents, limiter, signals
from providers.detect import UNKNOWN_ID, start_probe
from providers.errors import (
    InvalidKey,
    InvalidRequest,
    OutOfCredit,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    URLRefused,
    VideoNotFound,
    shorten,
)
from providers.models import ApiKey, KeyState, KeyTest, clean_prices

log = logging.getLogger(__name__)

# a test's message: our sentence around the provider's summary (providers.errors.SUMMARY_CHARS)
MESSAGE_CHARS = 500


class KeyActionRefused(Exception):
    """The action does not apply to the key as it is now; the message says why."""


# --- add and edit ----------------------------------------------------------------------------------

def add_key(form, actor, prices=None):
    """Create the key from a valid KeyForm, with `prices` ({model: {size: price}}, see `clean_prices`); renders
    waiting for a key of its pool look again at once."""
    with transaction.atomic(), audit.acting_as(actor):
        key = form.save(commit=False)
        key.prices = clean_prices(prices or {}, key.offered_models())
        key.save()
        form.save_m2m()
        woken = announce_available(key)
    return key, woken


def update_key(form, actor, prices=None):
    """Save a valid KeyForm of an existing key: only the fields it changed (never a stale state or counter). With
    `prices` ({model: {size: price}}), they replace the key's prices; either way prices of models and sizes the key
    no longer offers are dropped. The audit entry names every change, prices included."""
    key = form.save(commit=False)
    fields = [name for name in form.changed_data if name in {f.name for f in key._meta.concrete_fields}]
    if form.cleaned_data.get("secret"):
        fields += ["secret_encrypted", "secret_last4"]
    if form.cleaned_data.get("webhook_secret"):
        fields += ["webhook_secret_encrypted", "webhook_secret_last4"]
    kept = clean_prices(key.prices if prices is None else prices, key.offered_models())
    if kept != key.prices:
        key.prices = kept
        fields.append("prices")
    with transaction.atomic(), audit.acting_as(actor):
        if fields:
            key.save(update_fields=[*fields, "updated_at"])
        form.save_m2m()
        woken = announce_available(key) if {"projects", "max_concurrent", "rpm_limit"} & set(form.changed_data) \
            else 0
    return key, woken


# --- state -------------------------------------------------------------------------------------------

def enable(key, actor):
    """Back to work: from disabled, invalid, out of credit, rate limited or draining. Waiting renders resume."""
    with transaction.atomic():
        before = key.get_state_display().lower()
        changed = key.reactivate() or _undrain(key)
        if not changed:
            raise KeyActionRefused(f"{key.name} is already {key.get_state_display().lower()}.")
        incidents.resolve(key, by=actor, how="enabled")
        audit.record(actor, "key.enabled", key, f"was {before}")
        woken = announce_available(key)
    return woken


def _undrain(key):
    # the model's reactivate() leaves draining keys alone (rotation is deliberate); undoing it is a staff decision
    changed = ApiKey.objects.filter(pk=key.pk, state=KeyState.DRAINING).update(state=KeyState.ACTIVE,
                                                                                updated_at=timezone.now())
    key.refresh_from_db(fields=["state", "updated_at"])
    return bool(changed)


def disable(key, actor):
    """No new renders; jobs already on the key are still tracked and downloaded with it."""
    with transaction.atomic():
        before = key.get_state_display().lower()
        if not key.disable():
            raise KeyActionRefused(f"{key.name} is already disabled.")
        incidents.resolve(key, by=actor, how="disabled")
        audit.record(actor, "key.disabled", key, f"was {before}")


def drain(key, actor):
    """Rotation: renders in flight finish on this key; new renders go to the other keys of its pool."""
    with transaction.atomic():
        before = key.get_state_display().lower()
        if not key.drain():
            raise KeyActionRefused(f"Only an active or rate-limited key can be drained; {key.name} is {before}.")
        in_flight = signals.total(signals.key_draining, key)
        audit.record(actor, "key.drained", key, f"was {before}; {in_flight} render(s) in flight finish on it")
    return in_flight


def acknowledge_top_up(key, actor):
    """Someone added credit at the provider: the key takes renders again and the renders waiting for it resume."""
    with transaction.atomic():
        key.refresh_from_db(fields=["state"])
        if key.state != KeyState.OUT_OF_CREDIT:
            raise KeyActionRefused(f"{key.name} is {key.get_state_display().lower()}, not out of credit.")
        if not key.reactivate():
            raise KeyActionRefused(f"{key.name} changed state meanwhile; look again.")
        incidents.resolve(key, by=actor, how="top-up acknowledged")
        woken = announce_available(key)
        audit.record(actor, "key.topped_up", key, f"top-up acknowledged; {woken} waiting render(s) resumed")
    return woken


def announce_available(key):
    """The key takes new work (again): announce it, inside the caller's transaction; returns how many waiting
    renders the listeners woke (0 for a key that does not take new work)."""
    if not key.takes_new_work:
        return 0
    return signals.total(signals.key_available, key)


# --- the live test -----------------------------------------------------------------------------------

def start_test(key, actor):
    """Record a test and enqueue it (after commit); the key page polls for the result."""
    return start_probe(KeyTest, key, actor, "key.tested", "live list call requested", "providers.tasks.test_key")


def run_test(test_id):
    """GET /videos?limit=1 with the key, through the shared limiter; store what happened. A 401 marks the key
    invalid and an insufficient_quota marks it out of credit (and opens the incident, with its email).

    The result keeps the HTTP status and a short summary of the answer (the provider's code, the start of its
    message), never the answer itself: the base URL is whatever staff typed, and the key page must not become a
    window onto any server the worker can reach."""
    now = timezone.now()
    if not KeyTest.objects.filter(pk=test_id, outcome=KeyTest.Outcome.PENDING).update(
            outcome=KeyTest.Outcome.RUNNING, started_at=now):
        return None  # done already (a duplicate message)
    test = KeyTest.objects.select_related("key").get(pk=test_id)
    key = test.key
    result = {"outcome": KeyTest.Outcome.ERROR, "message": "", "status_code": None, "request_id": ""}
    wait = limiter.acquire_request(key.pk)
    if wait > 0:
        result.update(outcome=KeyTest.Outcome.NOT_SENT,
                      message=f"Nothing was sent: the key is paused or at its own limit of {key.rpm_limit} requests "
                              f"a minute for another {wait:.0f} s. Test again then.")
    else:
        try:
            with key.client() as client:
                if not key.has_list_endpoint:
                    return _finish(test_id, key, _retrieve_unknown(client))
                videos = list(itertools.islice(client.list(limit=1), 1))
        except ProviderError as exc:
            result.update(_failure(key, exc))
        except ValueError as exc:  # a secret that no configured encryption key decrypts
            result.update(message=str(exc))
        else:
            newest = (f" The newest video is {shorten(videos[0].id, 80)} ({shorten(videos[0].status, 40)})."
                      if videos else " No videos yet.")
            result.update(outcome=KeyTest.Outcome.OK, status_code=200,
                          message=f"The provider accepted the key.{newest}",
                          request_id=(videos[0].request_id if videos else "") or "")
    return _finish(test_id, key, result)


def _retrieve_unknown(client):
    """A key without a list endpoint: a retrieve of an id no job has; "not found" means the key was accepted.
    Other errors propagate to run_test."""
    try:
        client.retrieve(UNKNOWN_ID)
    except VideoNotFound as exc:
        return {"outcome": KeyTest.Outcome.OK, "status_code": exc.status, "request_id": exc.request_id or "",
                "message": "The provider accepted the key (it has no list: an unknown id answered “not found”)."}
    except InvalidRequest as exc:  # new-api's task_not_exist is a 400
        if exc.status != 400:
            raise
        return {"outcome": KeyTest.Outcome.OK, "status_code": exc.status, "request_id": exc.request_id or "",
                "message": "The provider accepted the key (it has no list: an unknown id answered "
                           f"{_said(exc)})."}
    return {"outcome": KeyTest.Outcome.OK, "status_code": 200, "request_id": "",
            "message": "The provider accepted the key."}


def _finish(test_id, key, result):
    result["message"] = _scrub(result["message"], key)
    result["request_id"] = shorten(result["request_id"], KeyTest._meta.get_field("request_id").max_length)
    KeyTest.objects.filter(pk=test_id).update(finished_at=timezone.now(), **result)
    if key.state in incidents.BROKEN_STATES:
        incidents.open_incident(key)
    log.info("key test %s of key %s: %s", test_id, key.pk, result["outcome"])
    return KeyTest.objects.get(pk=test_id)


def _said(exc):
    """What the provider said, short: its code and the start of its message."""
    message = shorten(exc.message)
    return f"{message} (code {shorten(exc.code, 60)})" if exc.code and exc.code not in message else message


def _failure(key, exc):
    said = _said(exc)
    values = {"status_code": exc.status, "request_id": exc.request_id or "", "message": said}
    if isinstance(exc, URLRefused):
        # as the renders would: the key is out of use until staff change its base URL (or the setting)
        key.mark_invalid(exc)
        values.update(outcome=KeyTest.Outcome.NOT_SENT,
                      message=f"Nothing was sent: {said}. The key is now marked invalid.")
    elif isinstance(exc, InvalidKey):
        key.mark_invalid(exc)
        values.update(outcome=KeyTest.Outcome.INVALID_KEY,
                      message=f"The provider refused the key: {said} The key is now marked invalid.")
    elif isinstance(exc, OutOfCredit):
        key.mark_out_of_credit(exc)
        values.update(outcome=KeyTest.Outcome.OUT_OF_CREDIT,
                      message=f"The account is out of credit: {said}")
    elif isinstance(exc, RateLimited):
        limiter.pause(key.pk, exc.retry_after if exc.retry_after is not None else settings.RENDER_RETRY_BASE_SECONDS,
                      f"rate limited: {exc}")
        after = f" Try again in {exc.retry_after:.0f} s." if exc.retry_after is not None else ""
        values.update(outcome=KeyTest.Outcome.RATE_LIMITED, message=f"Rate limited: {said}.{after}")
    elif isinstance(exc, ProviderUnavailable):
        key.record_error(exc)
        values.update(outcome=KeyTest.Outcome.UNAVAILABLE,
                      message=f"The provider failed: {said}. The key itself may be fine; test again later.")
    else:
        key.record_error(exc)
        values.update(outcome=KeyTest.Outcome.ERROR, message=f"{type(exc).__name__}: {said}")
    return values


def _scrub(text, key):
    # the client already scrubs echoed keys; this is a second belt for anything else that might quote them
    try:
        secrets = ((key.secret, key.secret_last4), (key.webhook_secret, key.webhook_secret_last4))
    except ValueError:
        return text[:MESSAGE_CHARS]
    for secret, last4 in secrets:
        if secret and len(secret) >= 8 and secret in text:
            text = text.replace(secret, f"••••{last4}")
    return text[:MESSAGE_CHARS]
