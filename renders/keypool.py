"""The key pool: which provider keys may serve a render, and which renders a key may serve.

One rule, written twice side by side so the two forms cannot drift apart:
- a remix only its parent's key (the only key that can see the parent's video);
- any other render the keys dedicated to its project or, when the project has none, the default pool (the keys
  dedicated to no project).

`pool_for(render)` is the rule over one render (a list of keys, for choosing one); `served_by(key)` is the same
rule as a query over renders (for waking, counting and listing the renders waiting for a key).
"""

import functools
import operator
import random
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from projects.models import Project
from providers import limiter
from providers.models import BROKEN_STATES, ApiKey, KeyState
from renders import enqueue, timing
from renders.models import Render
from renders.states import NOT_SENT, Status

# --- the rule ----------------------------------------------------------------------------------------


def pool_for(render):
    """The keys the render may use, in a stable order."""
    if render.remix_of_id:
        return [render.remix_of.api_key] if render.remix_of.api_key_id else []
    keys = ApiKey.objects.filter(projects=render.project_id)
    if not keys.exists():
        keys = ApiKey.objects.filter(projects__isnull=True)
    return list(keys.order_by("pk"))


def served_by(key):
    """The renders `key` may serve, as a filter over Render."""
    remixes = Q(remix_of__isnull=False, remix_of__api_key=key)
    dedicated = list(key.projects.values_list("pk", flat=True))
    if dedicated:
        return remixes | Q(remix_of__isnull=True, project_id__in=dedicated)
    with_own_keys = Project.objects.filter(api_keys__isnull=False).values("pk")
    return remixes | (Q(remix_of__isnull=True) & ~Q(project_id__in=with_own_keys))


# --- choosing a key for a create ---------------------------------------------------------------------

@dataclass
class KeyChoice:
    key: ApiKey | None = None
    wait: float = 0.0
    reason: str = ""


def choose_key(render):
    """A key that takes new work, with a job slot and a request slot taken from the shared limiter."""
    pool = pool_for(render)
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
        return KeyChoice(wait=timing.slot_wait(min(waits), *usable), reason="Waiting for the provider's rate limit.")
    # Every job slot is taken. A slot that frees wakes the render waiting longest at once (wake_next), so this is
    # only the fallback look: spread over the queue of renders waiting for these keys, at the pace their slots can
    # take them, so that a long queue does not come back all at once, every few seconds, for nothing.
    slots = sum(key.max_concurrent for key in usable) or 1
    pace = settings.RENDER_KEY_RETRY_SECONDS / slots
    wait = timing.jitter(settings.RENDER_KEY_RETRY_SECONDS) + random.uniform(0, _waiting_creates(usable) * pace)
    return KeyChoice(wait=wait, reason=f"Waiting for a free slot: {', '.join(busy)} at the concurrency limit.")


def _waiting_creates(keys):
    """How many renders are waiting to be created by these keys (no worker holds them, a next attempt ahead)."""
    served = functools.reduce(operator.or_, (served_by(key) for key in keys))
    return Render.objects.filter(status__in=NOT_SENT, heartbeat_at__isnull=True,
                                 next_attempt_at__gt=timezone.now()).filter(served).count()


# --- renders waiting for a key -----------------------------------------------------------------------

def waiting_for(key, now=None):
    """The renders waiting for a key or a slot that `key` may serve, and that may be woken early: no worker holds
    them and none is backing off after a provider fault (attempts > 0: that backoff is kept)."""
    now = now or timezone.now()
    return Render.objects.filter(status=Status.WAITING, attempts=0, heartbeat_at__isnull=True,
                                 next_attempt_at__gt=now).filter(served_by(key))


def wake_waiting(key):
    """The key takes new work again (added, enabled, topped up, its projects or limits changed): every render
    waiting for it tries again now instead of at its next look; the dispatcher sends them. Returns how many."""
    if not key.takes_new_work:
        return 0
    now = timezone.now()
    return waiting_for(key, now).update(next_attempt_at=now)


def wake_next(key_id):
    """A job slot of the key freed: send the create of the render that has waited longest for it now (on commit;
    should the message be lost, the dispatcher sends it after a lease). Returns whether one was woken."""
    key = ApiKey.objects.filter(pk=key_id).first()
    if key is None or not key.takes_new_work:
        return False
    now = timezone.now()
    # the one whose last look is oldest (updated_at): a render that looked a moment ago and waits only for the next
    # request slot comes back by itself; waking it would leave one asleep behind a free job slot
    waiting = waiting_for(key, now).order_by("updated_at", "pk").values_list("pk", "next_attempt_at").first()
    if waiting is None:
        return False
    pk, was = waiting
    due = timing.after(settings.RENDER_DISPATCH_LEASE_SECONDS)
    if not Render.objects.filter(pk=pk, next_attempt_at=was).update(next_attempt_at=due):
        return False
    enqueue.on_commit("create_render", pk, timing.due_token(due))
    return True


def waiting_render_count(key):
    """How many renders wait for a key that `key` may serve (the key incident's email and the staff pages)."""
    return Render.objects.filter(status=Status.WAITING).filter(served_by(key)).count()


def in_flight_count(key):
    """How many renders hold a job (or are about to) on `key`: they finish on it whatever its state."""
    return Render.objects.in_flight().filter(api_key=key).count()


def credit_waits(user, limit=50):
    """The user's renders waiting because every key that could take them is out of credit or invalid, grouped by
    project: [{"project": Project, "count": n, "out_of_credit": bool}]."""
    renders = list(Render.objects.filter(author=user, status=Status.WAITING).select_related("project", "remix_of")
                   .order_by("project_id", "pk")[:limit])
    if not renders:
        return []
    pools, groups = {}, {}
    for render in renders:
        pool_id = ("remix", render.remix_of_id) if render.remix_of_id else ("project", render.project_id)
        if pool_id not in pools:
            pools[pool_id] = pool_for(render)
        pool = pools[pool_id]
        # a rate-limited key comes back by itself (the pipeline keeps it in the pool): that is no credit wait
        if not pool or any(key.takes_new_work or key.state == KeyState.RATE_LIMITED for key in pool):
            continue
        broken = [key for key in pool if key.state in BROKEN_STATES]
        if not broken:
            continue  # disabled or draining keys: an admin decision, not an incident
        group = groups.setdefault(render.project_id, {"project": render.project, "count": 0, "out_of_credit": False})
        group["count"] += 1
        group["out_of_credit"] |= any(key.state == KeyState.OUT_OF_CREDIT for key in broken)
    return list(groups.values())
