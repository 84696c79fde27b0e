"""Who is looking at a render right now: a short-lived "watched" mark, so progress is asked for only when
someone can see it.

The pages' live polls (the studio's in-flight poll, the render page's live poll) call `watch` with the in-flight
renders they show: each gets a cache entry that lives RENDER_WATCHED_SECONDS, refreshed by every poll, gone soon
after the page is closed or hidden (the polls stop in a hidden tab). The cache is the site's own (Redis, or the
file cache under var/ on the defaults), so web and worker processes see the same marks.

While a render is watched and at the provider, the worker polls it at the provider's hint bounded to
RENDER_WATCHED_POLL_MIN..MAX_SECONDS (renders.timing.next_poll_delay). Unwatched, nothing changes: webhooks plus
the safety-net poll. When a render becomes watched while its next poll is the far-away safety net, `watch` pulls
that poll forward with a conditional UPDATE of next_attempt_at; the dispatcher sends it at its next tick.
"""

import math
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from renders.models import Render
from renders.states import AT_PROVIDER, IN_FLIGHT


def _key(render):
    # the id and the creation instant: a mark can never name another render (a database whose ids restart)
    return f"renders:watched:{render.pk}:{render.created_at.timestamp():.6f}"


def is_watched(render):
    """Whether a page showed this render within the last RENDER_WATCHED_SECONDS."""
    return cache.get(_key(render)) is not None


def forget(render):
    """Drop the mark of a render that left flight (no page asks about it any more)."""
    cache.delete(_key(render))


def safety_net_after():
    """Seconds beyond which a render's next poll can only be the safety net: every wait a fault sets (a retry's
    backoff, a refused key, a dispatch lease) is shorter, and those are never cut short by someone watching."""
    return max(settings.RENDER_RETRY_MAX_SECONDS, settings.RENDER_DISPATCH_LEASE_SECONDS,
               settings.RENDER_KEY_RETRY_SECONDS * 1.1 + 0.2, settings.RENDER_WATCHED_POLL_MAX_SECONDS)


def _far(render, beyond):
    if "next_attempt_at" in render.get_deferred_fields():
        return True  # not loaded: let the conditional UPDATE decide
    return render.next_attempt_at is not None and render.next_attempt_at > beyond


def watch(renders):
    """Mark the in-flight renders a page shows as watched, and pull forward the next poll of those whose next
    poll is the far-away safety net. One cache write; an UPDATE only when a poll has to be pulled forward (once
    per render, normally: the worker then keeps the watched cadence). Returns how many were pulled forward."""
    shown = [r for r in renders if r.status in IN_FLIGHT]
    if not shown:
        return 0
    # whole seconds: Redis expires keys by the second (Django's backend truncates, and 0 would delete the keys)
    cache.set_many({_key(r): 1 for r in shown}, timeout=max(1, math.ceil(settings.RENDER_WATCHED_SECONDS)))
    now = timezone.now()
    beyond = now + timedelta(seconds=safety_net_after())
    far = [r.pk for r in shown if r.status in AT_PROVIDER and _far(r, beyond)]
    if not far:
        return 0
    # no worker holds it (a held render has no next_attempt_at) and its next poll is still the far one
    return Render.objects.filter(pk__in=far, status__in=AT_PROVIDER, heartbeat_at__isnull=True,
                                 next_attempt_at__gt=beyond).update(next_attempt_at=now)
