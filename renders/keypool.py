"""The key pool: which provider keys may serve a render, and which renders a key may serve.

One rule, written twice side by side so the two forms cannot drift apart:
- a remix only its parent's key (the only key that can see the parent's video);
- any other render the keys dedicated to its project or, when the project has none, the default pool (the keys
  dedicated to no project), and of those only the keys whose profile offers the render's model, size and length
  (`ApiKey.offers`; a remix keeps its parent's, which its parent's key rendered).

`pool_for(render)` is the rule over one render (a list of keys, for choosing one); `served_by(key)` is the same
rule as a query over renders (for waking, counting and listing the renders waiting for a key). The profile lives
in the key (JSON), so neither filters it in SQL: pool_for loads the project's few keys and asks each in Python;
served_by turns the one key's profile into plain conditions on the render's model, size and seconds.

`offer(project)` is what the studio may offer: the union of what the project's keys offer (see Offer).
"""

import functools
import operator
import random
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from projects.models import Project
from providers import limiter
from providers.models import BROKEN_STATES, ApiKey, KeyState
from renders import enqueue, timing
from renders.models import Render
from renders.states import NOT_SENT, Status

# --- the rule ----------------------------------------------------------------------------------------


def project_keys(project_id):
    """The keys serving the project's new renders, whatever they offer: its own keys or, without any, the default
    pool. One query, in a stable order."""
    own = ApiKey.projects.through.objects.filter(apikey_id=OuterRef("pk"), project_id=project_id)
    keys = list(ApiKey.objects.annotate(own=Exists(own)).filter(Q(own=True) | Q(projects__isnull=True))
                .order_by("pk"))
    mine = [key for key in keys if key.own]
    return mine or keys


def serving_keys(project_id, model, size, seconds):
    """The keys that may serve a render (not a remix) of the project at this model, size and length, whatever
    their state, in a stable order: the pool a render of these options gets, and whose prices it reserves at."""
    return [key for key in project_keys(project_id) if key.offers(model, size, seconds)]


def pool_for(render):
    """The keys the render may use, in a stable order."""
    if render.remix_of_id:
        return [render.remix_of.api_key] if render.remix_of.api_key_id else []
    return serving_keys(render.project_id, render.model, render.size, render.seconds)


def offered_renders(key):
    """The renders (not remixes) whose model, size and seconds `key` offers, as a filter over Render."""
    offered = [Q(model=model, size__in=allowed["sizes"], seconds__in=allowed["seconds"])
               for model, allowed in key.offered_models().items()]
    return functools.reduce(operator.or_, offered) if offered else Q(pk__in=[])


def served_by(key):
    """The renders `key` may serve, as a filter over Render."""
    remixes = Q(remix_of__isnull=False, remix_of__api_key=key)
    fresh = Q(remix_of__isnull=True) & offered_renders(key)
    dedicated = list(key.projects.values_list("pk", flat=True))
    if dedicated:
        return remixes | (fresh & Q(project_id__in=dedicated))
    with_own_keys = Project.objects.filter(api_keys__isnull=False).values("pk")
    return remixes | (fresh & ~Q(project_id__in=with_own_keys))


# --- what the studio offers --------------------------------------------------------------------------

@dataclass
class Offer:
    """What a project's keys can render: {model: {size: [seconds]}}, in the settings' order. `keyed` is False when
    no key makes the offer (none serves the project, or those that do offer nothing the settings allow): then it is
    everything the settings allow, and a render waits for a key as it always has."""

    table: dict
    keyed: bool = True

    @property
    def models(self):
        return list(self.table)

    def sizes(self, model=None):
        """The sizes of `model`, or of every model (each once, in order)."""
        tables = [self.table.get(model, {})] if model else self.table.values()
        return list(dict.fromkeys(size for sizes in tables for size in sizes))

    def seconds(self, model=None, size=None):
        """The lengths of `model` at `size` (either or both may be None: every one), shortest first."""
        models = [model] if model else list(self.table)
        return sorted({s for m in models for z, lengths in self.table.get(m, {}).items() if size in (None, z)
                       for s in lengths})

    def sizes_json(self):
        """{model: [sizes]} for the page's script (data-sizes)."""
        return {model: list(sizes) for model, sizes in self.table.items()}

    @property
    def by_keys(self):
        """Where a message says the limit comes from: " with this project's keys" (or "" for the settings')."""
        return " with this project's keys" if self.keyed else ""

    def refusal(self, model, size, seconds):
        """{field: message} naming what is possible, when no key offers `model` at `size` for `seconds`; {} when
        one does. A size or length that is None is not checked (the form's own checks name it)."""
        if model not in self.table:
            return {"model": f"Choose a model{self.by_keys}: {', '.join(self.table)}."}
        if size is not None and size not in self.table[model]:
            return {"size": f"{model} renders only {', '.join(self.table[model])}{self.by_keys}."}
        if size is not None and seconds is not None and int(seconds) not in self.table[model][size]:
            lengths = ", ".join(map(str, self.table[model][size]))
            return {"seconds": f"{model} at {size} renders only {lengths} seconds{self.by_keys}."}
        return {}


def _offer_table(keys):
    table = {}
    for key in keys:
        for model, allowed in key.offered_models().items():
            sizes = table.setdefault(model, {})
            for size in allowed["sizes"]:
                sizes.setdefault(size, set()).update(allowed["seconds"])
    # the settings' order, whatever order the keys came in
    return {model: {size: sorted(table[model][size]) for size in sizes if size in table[model]}
            for model, sizes in settings.RENDER_MODELS.items() if model in table}


def offer(project_id):
    """What the studio offers for the project: the union of what its keys offer, counting the keys that may take
    new work again by themselves (active, rate limited, out of credit, invalid: a render waits for them) and not
    those staff took out of service (disabled, draining). Without such a key: everything the settings allow."""
    keys = [key for key in project_keys(project_id) if key.state not in (KeyState.DISABLED, KeyState.DRAINING)]
    table = _offer_table(keys)
    if table:
        return Offer(table)
    allowed = {model: {size: sorted(settings.RENDER_SECONDS) for size in sizes}
               for model, sizes in settings.RENDER_MODELS.items()}
    return Offer(allowed, keyed=False)


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
        reason = "No provider key serves this project."
        if not render.remix_of_id and project_keys(render.project_id):
            reason = (f"No provider key of this project renders {render.model} at {render.size} for "
                      f"{render.seconds} s.")
        return KeyChoice(wait=settings.RENDER_KEY_RETRY_SECONDS, reason=reason)
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
