"""What every run of the fault matrix does and checks.

A run: a team, provider keys pointed at sorasim (webhooks to the live server), a batch of renders with unique
prompts, a fault switched on through sorasim's admin API, then wait until every render is final. The checks, the
same for every run (`check_run`):

- every render ended completed (files stored, MP4 readable, settled to the delivered seconds) or failed with a
  reason in words and refunded; none is lost (all submitted renders are there) or stuck (in flight);
- sorasim's accepted (billed) creates equal the renders that have a provider id, and the provider's jobs of the
  run are exactly those renders' jobs (no job paid for that no render owns, none created twice, no two renders on
  one job); a run that restarts sorasim counts its billed creates from the jobs it kept on disk
  (`billed_from_jobs`), since its counters live in memory and start again at zero;
- the quota books balance (`manage.py check_quotas`), and every key's job-slot counter is back to 0;
- each webhook delivery had one effect.
"""

import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.core.management import call_command

from projects.models import Project, Role
from providers import limiter, presets
from providers.models import ApiKey
from quotas.models import Reservation
from quotas.services import price_per_second
from renders import actions
from renders.models import BillingIncident, EventKind, Render, RenderEvent
from renders.pipeline import stored_duration
from renders.states import FINAL, Status
from tests.fixtures.sorasim import WEBHOOK_SECRET
from tests.fixtures.waits import wait_for
from tests.fixtures.world import new_project, submit


@dataclass
class Run:
    """One run of the matrix: its sorasim, its keys (sorasim key name -> ApiKey) and its renders."""

    name: str
    sim: object
    project: Project
    user: object
    keys: dict = field(default_factory=dict)
    renders: list = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @property
    def control(self):
        return self.sim.control

    def submit(self, count, *, prompt="a paper boat on a rainy street", **values):
        made = []
        for _ in range(count):
            n = len(self.renders) + 1
            made.append(submit(self.user, self.project, prompt=f"{prompt} [{self.name} #{n}]", **values))
            self.renders.append(made[-1])
        return made

    def remix(self, parent, prompt="the same boat, at night"):
        n = len(self.renders) + 1
        render = actions.submit(self.user, self.project, prompt=f"{prompt} [{self.name} #{n}]", remix_of=parent)
        self.renders.append(render)
        return render

    def refresh(self):
        for render in self.renders:
            render.refresh_from_db()
        return self.renders

    def statuses(self):
        return Counter(render.status for render in self.refresh())

    def fired(self, fault):
        """How often sorasim fired `fault` (summed over the run's keys)."""
        return sum(self.control.counters(name)["faults_fired"].get(fault, 0) for name in self.keys)

    def responses(self, request):
        """How often sorasim answered `request` (e.g. "POST /v1/videos 429"), summed over the run's keys."""
        return sum(self.control.counters(name)["requests"].get(request, 0) for name in self.keys)


def make_run(name, sim, live_server, user, *others):
    project = new_project(user, f"Run {name}", members={other: Role.EDITOR for other in others})
    sim.control.reset()
    return Run(name=name, sim=sim, project=project, user=user)


# each sorasim dialect as a key added with its preset (sorasim/dialects.py, providers/presets.py)
DIALECT_PRESETS = {"openai": presets.OPENAI, "newapi": presets.NEWAPI, "litellm": presets.LITELLM,
                   "azure": presets.AZURE}
DIALECT_PATHS = {"azure": "/openai/v1"}


def add_key(run, sim_key, live_server, *, dialect="openai", dedicated=True, webhooks=None, credit_usd=None,
            **fields):
    """An ApiKey for sorasim's key `sim_key` (created there if new, speaking `dialect`) with the dialect's preset,
    serving the run's project; its webhooks (the openai dialect's only: gateways relay none) go to the live server.
    No limits of our own unless given: sorasim's faults are the subject, not our limiter."""
    webhooks = dialect == "openai" if webhooks is None else webhooks
    values = presets.get(DIALECT_PRESETS[dialect]).fields()
    values.pop("model_table")  # every model, size and length the settings allow
    values.update({"rpm_limit": 0, "max_concurrent": 0, "has_webhooks": webhooks})
    if dialect == "openai":
        values["can_remix_endpoint"] = True
    values.update(fields)
    base_url = run.sim.url + DIALECT_PATHS.get(dialect, "/v1")
    key = ApiKey(name=f"{run.name} {sim_key}", base_url=base_url, **values)
    key.secret = sim_key
    key.webhook_secret = WEBHOOK_SECRET
    key.save()
    if dedicated:
        key.projects.add(run.project)
    urls = [live_server.url + f"/webhooks/{key.webhook_uuid}/"] if webhooks else []
    run.control.set_key(sim_key, webhook_urls=urls, webhook_secret=WEBHOOK_SECRET, credit_usd=credit_usd, rpm=0,
                        valid=True, dialect=dialect)
    run.control.reset_counters(sim_key)
    run.keys[sim_key] = key
    return key


def describe(run, worker=None, limit=6):
    """The renders not final (or the first few) with their timelines, and the worker's log tail: for failures."""
    lines = [f"run {run.name}: {dict(run.statuses())}"]
    stuck = [r for r in run.renders if r.status != Status.COMPLETED] or run.renders[:2]
    for render in stuck[:limit]:
        lines.append(f"render {render.pk} {render.status} key={render.api_key_id} video={render.provider_video_id!r} "
                     f"next={render.next_attempt_at} beat={render.heartbeat_at} error={render.error_code}")
        for event in render.events.all():
            lines.append(f"    {event.created_at:%H:%M:%S.%f} {event.source:10} {event.kind:8} "
                         f"{event.status_from}->{event.status_to} {event.message[:160]}")
    if worker is not None:
        lines.append(worker.log()[-6000:])
    return "\n".join(lines)


def wait_all_final(run, worker, timeout=90):
    def done():
        return all(render.status in FINAL for render in run.refresh())

    try:
        wait_for(done, timeout, f"every render of run {run.name} to end", every=0.2)
    except AssertionError:
        raise AssertionError(describe(run, worker)) from None
    return run.renders


def wait_status(run, render, statuses, worker=None, timeout=60):
    statuses = {statuses} if isinstance(statuses, str) else set(statuses)

    def reached():
        render.refresh_from_db()
        return render.status in statuses

    try:
        wait_for(reached, timeout, f"render {render.pk} to reach {statuses}", every=0.05)
    except AssertionError:
        raise AssertionError(describe(run, worker)) from None
    return render


def expected_charge(render):
    """What settlement must charge: the delivered seconds rounded half up to a tenth, capped at the seconds asked,
    times the price per second of the key that made the render, never above the price the render reserved at,
    rounded half up to the cent."""
    seconds = min(Decimal(render.delivered_seconds).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP),
                  Decimal(render.seconds))
    price = min(price_per_second(render.model, render.size, render.api_key),
                Reservation.objects.get(render=render).price_per_second_usd)
    return (seconds * price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def check_run(run, worker=None, *, min_completed=None, billed_from_jobs=False):
    """The invariants every run must keep (see the module docstring). Returns the renders by status.

    billed_from_jobs: count sorasim's billed creates as the run's jobs it keeps (each job is charged when it is
    made), not its creates_accepted counters, which a restart of sorasim sets back to zero."""
    renders = run.refresh()
    ids = [render.pk for render in renders]
    assert Render.objects.filter(pk__in=ids).count() == len(ids), "a render was lost"
    by_status = Counter(render.status for render in renders)
    assert set(by_status) <= {Status.COMPLETED, Status.FAILED}, describe(run, worker)
    for render in renders:
        reservation = Reservation.objects.get(render=render)
        if render.status == Status.COMPLETED:
            for variant in ("video", "thumbnail", "spritesheet"):
                stored = render.asset(variant)
                assert stored and stored.storage.exists(stored.name), f"render {render.pk}: no stored {variant}"
            duration = stored_duration(render.video)  # the stored MP4 is complete and readable
            assert abs(Decimal(str(duration)) - render.delivered_seconds) < Decimal("0.01")
            assert reservation.state == Reservation.State.SETTLED, f"render {render.pk}: {reservation.state}"
            assert render.charged_usd == expected_charge(render), (render.pk, render.charged_usd, duration)
        else:
            assert render.error_code and render.error_message.strip(), f"render {render.pk} failed without a reason"
            assert reservation.state == Reservation.State.REFUNDED, f"render {render.pk}: {reservation.state}"
            assert render.charged_usd == 0
    if min_completed is None:
        min_completed = len(renders)
    assert by_status[Status.COMPLETED] >= min_completed, describe(run, worker)

    # paid exactly once: sorasim's billed creates are the renders with a provider id, job for job, and the renders
    # failed "outcome unknown" (a lost create answer on a key without a list: the job may exist, no render owns it)
    created = Render.objects.filter(pk__in=ids).exclude(provider_video_id="")
    unknown = Render.objects.filter(pk__in=ids, status=Status.FAILED, error_code="outcome_unknown")
    # each with its incident of what the provider may have billed, for staff to reconcile (its full price)
    incidents = BillingIncident.objects.filter(render__in=unknown)
    assert incidents.count() == unknown.count(), "a render failed as outcome unknown without its billing incident"
    for incident in incidents.select_related("render"):
        reserved = Reservation.objects.get(render=incident.render).cents
        assert (incident.amount_cents, incident.resolved_at) == (reserved, None), incident.render_id
    tag = f"[{run.name} #"
    jobs = {job["id"]: job for name in run.keys for job in run.control.videos(name) if tag in (job.get("prompt") or "")}
    if billed_from_jobs:
        accepted = len(jobs)
    else:
        accepted = sum(run.control.counters(name)["creates_accepted"] for name in run.keys)
    assert accepted <= created.count() + unknown.count(), (
        f"sorasim billed {accepted} creates for {created.count()} renders with a job and {unknown.count()} whose "
        "outcome is unknown")
    assert accepted >= created.count()
    owned = set(created.values_list("provider_video_id", flat=True))
    assert len(owned) == created.count(), "two renders own the same provider job"
    assert owned <= set(jobs), "a render owns a job the provider never made"
    unowned = set(jobs) - owned
    assert len(unowned) <= unknown.count(), f"{len(unowned)} provider job(s) no render owns: {sorted(unowned)}"
    for job in jobs.values():  # no job no render owns unless it is an unknown outcome's, checked above
        assert job["status"] in ("completed", "failed"), f"job {job['id']} is still {job['status']}"
    check_ended_after_their_jobs(created, jobs)

    call_command("check_quotas", stdout=_Sink())
    for key in run.keys.values():
        wait_for(lambda key=key: limiter.jobs_in_flight(key.pk) == 0, 10, f"the job slots of {key.name} to be free")
    # each webhook delivery had one effect (its id in one WEBHOOK event)
    webhook_events = Counter(
        message.split("webhook-id ")[-1] for message in
        RenderEvent.objects.filter(render__in=ids, kind=EventKind.WEBHOOK).values_list("message", flat=True))
    assert not [wid for wid, n in webhook_events.items() if n > 1], webhook_events
    return by_status


def check_ended_after_their_jobs(created, jobs):
    """No render took its job for finished before the provider finished it (a status word misread as final): the
    render's first move out of tracking (to downloading or failed) comes after the job's end at sorasim."""
    for render in created:
        job = jobs[render.provider_video_id]
        ended = job["completed_at"] if job["status"] == "completed" else job["fail_at"]
        judged = (render.events.filter(kind=EventKind.STATUS, status_to__in=(Status.DOWNLOADING, Status.FAILED))
                  .order_by("created_at").values_list("created_at", flat=True).first())
        assert judged is not None and ended is not None, (render.pk, job)
        # completed_at is whole seconds (rounded down): a render that judged it ended later cannot be earlier
        assert judged.timestamp() >= ended - (0 if job["status"] == "completed" else 0.05), (
            f"render {render.pk} ended at {judged.timestamp():.3f}, before its job {job['id']} ({job['status']} "
            f"at {ended})")


class _Sink:
    def write(self, *args, **kwargs):
        pass

    def flush(self):
        pass
