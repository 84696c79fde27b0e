"""The reconciler's provider requests per minute while a create's outcome stays unknown, counted by sorasim.

A render whose create answer was lost (status sending, no job id, no worker holding it) makes the reconciler list
its key's recent jobs, through the key's limiter, until a listing settles it. While nothing changes, the listings
come less and less often (the gap doubles from RENDER_RECONCILE_INTERVAL_SECONDS up to
RENDER_RECONCILE_LIST_MAX_GAP_SECONDS); for comparison, each scenario runs again with the cap at the interval, which
is one listing per round (the reconciler before the back-off).

Runs the reconciler's real rounds (renders.reconcile.reconcile) in this process, against a real sorasim over HTTP,
on a clock the bench moves one round at a time (the rounds' spacing is the production interval, 30 s, unless
--interval says otherwise), so ten simulated minutes take seconds. The lost creates never reached sorasim, so no
listing ever shows their jobs; the requests are sorasim's own counters of each scenario's key, by route.

- one lost create, kept unknown for --minutes (its resend moment set past the run);
- a lost create every two minutes on the same key (each new one is listed at once and the gap starts over);
- the default resend moment (RENDER_RECONCILE_RESEND_AFTER_SECONDS, at least twice PROVIDER_TIMEOUT_SECONDS): the
  seconds from the create to its being sent again, which the back-off must not make later.

    SORAWEB_TESTING=1 .venv/bin/python bench/bench_reconcile_requests.py [--minutes 10] [--interval 30]

It runs in a database of its own (Django's test database for the configured DATABASE_URL: PostgreSQL when set,
SQLite in memory otherwise), created and destroyed here. No targets: the numbers are printed.
"""

import argparse
import sys
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stack import people, setup_django, team_project, test_database  # noqa: E402

setup_django(LOG_LEVEL="WARNING")

from django.conf import settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from tests.fixtures.sorasim import start_sorasim  # noqa: E402

REAL_NOW = timezone.now


class Clock:
    """Simulated time for everything that asks django.utils.timezone.now (the reconciler, the limiter)."""

    def __init__(self):
        self.start = self.now = REAL_NOW()

    def at(self, seconds):
        return self.start + timedelta(seconds=seconds)

    def __call__(self):
        return self.now


def scenario(sim, project, author, *, rounds, interval, lost_at, back_off, resend_after=None):
    """Run `rounds` reconciler rounds, `interval` seconds apart (the first at 0), on a fresh sorasim key with renders
    whose creates were lost at the seconds of `lost_at` (each appears at the first round after it). With `back_off`
    off, the cap is the interval: one listing per round. Returns sorasim's requests of the key by route, and the
    seconds from each render's create to its resend (None: not sent again)."""
    from providers.models import ApiKey
    from renders import reconcile
    from renders.models import Render
    from renders.states import Status

    settings.RENDER_RECONCILE_INTERVAL_SECONDS = interval
    settings.RENDER_RECONCILE_LIST_MAX_GAP_SECONDS = 120 if back_off else interval
    settings.RENDER_RECONCILE_RESEND_AFTER_SECONDS = resend_after or 10 * rounds * interval  # past the run
    secret = f"sk-bench-reconcile-{uuid.uuid4().hex[:8]}"
    sim.control.set_key(secret)
    key = ApiKey(name=f"bench {secret}", base_url=sim.api_url, has_webhooks=False)  # the default limits (25 rpm)
    key.secret = secret
    key.save()
    clock = Clock()
    timezone.now = clock
    try:
        pending = sorted(lost_at)
        renders, resent = [], {}
        for n in range(rounds):
            clock.now = clock.at(n * interval)
            while pending and pending[0] <= n * interval:
                # its create went out RECONCILE_AFTER ago: the reconciler sees it in this round
                sent = clock.now - timedelta(seconds=settings.RENDER_RECONCILE_AFTER_SECONDS)
                renders.append(Render.objects.create(
                    project=project, author=author, prompt=f"a lighthouse at dusk {pending.pop(0)}", model="sora-2",
                    size="1280x720", seconds=4, status=Status.SENDING, api_key=key, create_sent_at=sent,
                    error_code="outcome_unknown", created_at=sent, updated_at=sent))
            reconcile.reconcile()
            for render in renders:
                if render.pk not in resent and Render.objects.filter(pk=render.pk, status=Status.WAITING).exists():
                    resent[render.pk] = (clock.now - render.create_sent_at).total_seconds()
    finally:
        timezone.now = REAL_NOW
    requests = Counter(sim.control.counters(secret)["requests"])
    return requests, [resent.get(render.pk) for render in renders]


def lists(requests):
    """The list calls among sorasim's counted requests ("GET /v1/videos <status>"; a retrieve has the id after it)."""
    return sum(count for route, count in requests.items() if route.startswith("GET /v1/videos "))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10, help="simulated minutes per scenario (default 10)")
    parser.add_argument("--interval", type=float, default=30,
                        help="RENDER_RECONCILE_INTERVAL_SECONDS, the rounds' spacing (default 30)")
    args = parser.parse_args()
    with test_database(), start_sorasim("--media", "fast", "--api-key", "sk-bench-unused") as sim:
        run(sim, args)


def run(sim, args):
    author, = people("bench")
    from projects.models import Role

    project = team_project("bench reconcile", [(author, Role.OWNER)])
    interval = args.interval
    rounds = int(args.minutes * 60 // interval)
    minutes = rounds * interval / 60
    print(f"the reconciler's provider requests while creates' outcomes stay unknown, counted by sorasim "
          f"({rounds} rounds {interval:g} s apart = {minutes:g} simulated minutes per run; back-off cap 120 s)")

    shapes = {
        "one lost create": [0],
        "a lost create every 2 minutes": [t for t in range(0, int(rounds * interval), 120)],
    }
    for name, lost_at in shapes.items():
        print(f"  {name} ({len(lost_at)} in all), its job never listed:")
        for back_off in (True, False):
            requests, _ = scenario(sim, project, author, rounds=rounds, interval=interval, lost_at=lost_at,
                                   back_off=back_off)
            listed = lists(requests)
            label = "with the back-off " if back_off else "one listing a round"
            print(f"    {label}: {listed:3d} list calls, {listed / minutes:5.2f} a minute; all requests: "
                  + ", ".join(f"{route} x{count}" for route, count in sorted(requests.items())))

    resend_after = max(60.0, 2 * settings.PROVIDER_TIMEOUT_SECONDS)  # the production default's resend moment
    print(f"  the resend moment ({resend_after:g} s after the create), a lost create whose job never came:")
    for back_off in (True, False):
        requests, resent = scenario(sim, project, author, rounds=max(int(3 * resend_after // interval), 4),
                                    interval=interval, lost_at=[0], back_off=back_off, resend_after=resend_after)
        label = "with the back-off " if back_off else "one listing a round"
        when = f"sent again {resent[0]:g} s after its create" if resent[0] is not None else "not sent again"
        print(f"    {label}: {when}, after {lists(requests)} list calls")


if __name__ == "__main__":
    main()
