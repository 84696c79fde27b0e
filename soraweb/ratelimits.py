"""Rate limits on the app's own write endpoints: submits, comments, invitations, CSP reports.

    refused = ratelimits.count("submit", request.user)   # AFTER the membership and role checks
    if refused:
        return ratelimits.too_many(request, refused)      # 429, Retry-After, a small page

Authorization runs first, so a 429 never replaces a 404 or 403. Each limit is a setting (None turns it off).

The counters are rows (RateCounter), one fixed window per key, counted by ONE conditional UPDATE: web processes
share them on both configurations and no two requests can both take the last write of a window. Django's cache
would not do: without Redis (`make run`) it is the file cache, whose incr() is a read then a write (two processes
both read 9 and both write 10) and which culls entries at random past MAX_ENTRIES. One UPDATE per limited write
is small beside what a submit or a comment writes anyway.
"""

import math
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.shortcuts import render
from django.utils import timezone

from soraweb.models import RateCounter

# scope -> (the setting with its limit, the window in seconds, what is counted, the window in words)
LIMITS = {
    "submit": ("RATE_LIMIT_SUBMITS_PER_MINUTE", 60, "submissions", "a minute"),
    "comment": ("RATE_LIMIT_COMMENTS_PER_MINUTE", 60, "comments", "a minute"),
    "invite": ("RATE_LIMIT_INVITATIONS_PER_HOUR", 3600, "invitations", "an hour"),
    "csp_report": ("RATE_LIMIT_CSP_REPORTS_PER_MINUTE", 60, "reports", "a minute"),
}


@dataclass(frozen=True)
class Refusal:
    message: str
    retry_after: int  # whole seconds until the window ends


def count(scope, who):
    """Count one write of `scope` by `who` (a user, or an address as a string); a Refusal when the window is
    full (the write is not counted then), else None."""
    setting, window, what, per = LIMITS[scope]
    limit = getattr(settings, setting)
    if limit is None:
        return None
    who = who if isinstance(who, str) else f"user:{who.pk}"
    wait = hit(f"{scope}:{who}", limit, timedelta(seconds=window))
    if wait is None:
        return None
    seconds = max(math.ceil(wait.total_seconds()), 1)
    when = f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
    return Refusal(f"Too many {what}: {limit} {per} at most. Try again in {when}.", seconds)


def hit(key, limit, window):
    """Count a hit on `key` in its current window (a new one starts at a hit after the last ended); None when
    counted, else the time left until the full window ends."""
    now = timezone.now()
    current = Q(resets_at__gt=now)
    for _ in range(2):
        # one statement decides and counts: every expression reads the row as it was before this UPDATE
        counted = RateCounter.objects.filter(Q(key=key) & (~current | Q(hits__lt=limit))).update(
            hits=Case(When(current, then=F("hits") + 1), default=Value(1)),
            resets_at=Case(When(current, then=F("resets_at")), default=Value(now + window)))
        if counted:
            return None
        resets_at = RateCounter.objects.filter(key=key).values_list("resets_at", flat=True).first()
        if resets_at is not None:
            return resets_at - now
        # the key's first hit (or its row was pruned): ended windows go, this one starts
        RateCounter.objects.filter(resets_at__lt=now - timedelta(hours=1)).delete()
        try:
            with transaction.atomic():
                RateCounter.objects.create(key=key, hits=1, resets_at=now + window)
            return None
        except IntegrityError:
            continue  # another request made the row first: count against it
    return window


def too_many(request, refusal, template="429.html", context=None):
    """The 429 answer: `template` (a small page by default; a form's partial for htmx) with the refusal's message,
    and Retry-After."""
    response = render(request, template, {**(context or {}), "refusal": refusal}, status=429)
    response["Retry-After"] = str(refusal.retry_after)
    return response
