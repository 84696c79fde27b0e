"""Provider requests per render while someone watches it, and while nobody does, counted by sorasim.

Runs the real thing: sorasim (`--media fast`), the web app under gunicorn (it receives sorasim's signed webhooks
and answers the studio's in-flight poll), a Celery worker with beat, and the pipeline's PRODUCTION settings
(webhooks on, the 300 s safety net, the watched cadence of 2..5 s at the provider's hint). Two projects, each with
its own key whose provider posts webhooks. For the watched one the bench does what an open studio page does:
one in-flight poll every 2 s (signed in, over HTTP) naming its cards, which marks them watched. Nothing watches
the other. Both sets run at once with sorasim's job time set to `--job-seconds` (default 30).

Bounds: watched <= 5 + job seconds / poll interval (the shortest watched interval, RENDER_WATCHED_POLL_MIN_SECONDS:
no watched poll comes sooner), unwatched <= 5 (create, the retrieve after the webhook, three downloads). Also
printed: the distinct progress values the watching page saw per render, and the mean gap between polls.

    .venv/bin/python bench/bench_watched_progress.py [--renders 3] [--job-seconds 30]

Uses DATABASE_URL (a scratch database `<name>_bench`, created and dropped) and REDIS_URL when set; else a
SQLite file and the embedded broker in a temporary folder (the `make run` defaults), where the bounds are printed,
not asserted.
"""

import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stack import arguments, live_stack, people, print_routes  # noqa: E402

WATCHED_KEY, UNWATCHED_KEY = "sk-bench-watched", "sk-bench-unwatched"
PAGE_POLL_SECONDS = 2  # the studio's in-flight poll (templates/renders/studio.html)
RETRIEVE = "GET /v1/videos/{video_id} 200"


def watch_until_final(web_url, cookie, project, ids, deadline):
    """Poll the studio's in-flight endpoint every PAGE_POLL_SECONDS, as an open studio page does, until every
    render is final; returns the progress values each card showed."""
    import httpx

    from renders.models import Render
    from renders.states import FINAL

    seen = {pk: [] for pk in ids}
    url = f"{web_url}/projects/{project.pk}/inflight/"
    # a connection per poll, as the idle gap outlasts gunicorn's keep-alive (a reused connection may be closed under
    # the request)
    with httpx.Client(cookies=cookie, headers={"HX-Request": "true", "Connection": "close"}, timeout=10) as client:
        while time.monotonic() < deadline:
            flying = list(Render.objects.filter(pk__in=ids).exclude(status__in=FINAL).values_list("pk", flat=True))
            if not flying:
                break
            body = client.get(url, params={"ids": flying}).raise_for_status().text
            for pk in flying:
                card = re.search(rf'id="render-{pk}".*?</li>', body, re.S)
                value = re.search(r'<progress[^>]*value="(\d+)"', card.group(0)) if card else None
                if value:
                    seen[pk].append(int(value.group(1)))
            time.sleep(PAGE_POLL_SECONDS)
    return seen


def main():
    args = arguments(__doc__, renders=3, job_seconds=30.0).parse_args()

    with live_stack([WATCHED_KEY, UNWATCHED_KEY], args.job_seconds, cache_prefix="bench-watched") as stack:
        from django.conf import settings

        user, = people("bench", password="password")
        cookie = stack.session_cookie(user)
        secrets = {"watched": WATCHED_KEY, "unwatched": UNWATCHED_KEY}
        started = time.monotonic()
        projects, _keys, ids = stack.submit_per_mode(
            user, {mode: {"secret": secret} for mode, secret in secrets.items()}, args.renders, "a lantern over a lake")
        deadline = started + args.job_seconds * 3 + 120
        seen = watch_until_final(stack.web_url, cookie, projects["watched"], ids["watched"], deadline)
        stack.wait_until_final([pk for pks in ids.values() for pk in pks], deadline)
        elapsed = time.monotonic() - started

        interval = settings.RENDER_WATCHED_POLL_MIN_SECONDS
        bounds = {"watched": 5 + args.job_seconds / interval, "unwatched": 5}
        print(f"provider requests per render, counted by sorasim ({args.renders} renders per mode, webhooks on, "
              f"sorasim job time {args.job_seconds:.0f} s, production settings; {elapsed:.0f} s)")
        counted = stack.requests_per_render(secrets, ids, bounds)
        for mode, (done, requests, per, met) in counted.items():
            bound = (f"5 + {args.job_seconds:.0f} s / {interval:g} s = {bounds[mode]:g}" if mode == "watched"
                     else "5")
            print(f"  {mode:9s} {per:5.2f} requests/render  (bound <= {bound}: {'met' if met else 'NOT met'}; "
                  f"{done}/{args.renders} completed)")
            print_routes(requests, done)
            if mode == "watched":
                polls = requests.get(RETRIEVE, 0) / max(done, 1)
                values = [len({v for v in seen[pk] if 0 < v < 100}) for pk in ids[mode]]
                every = args.job_seconds / max(polls, 1)
                print(f"      progress polls: {polls:.1f} a render, one every {every:.1f} s of the job on average; "
                      f"the watching page saw {min(values)}..{max(values)} distinct progress values a render")
        return stack.exit_status(all(met for *_, met in counted.values()), "bounds not asserted on the defaults")


if __name__ == "__main__":
    sys.exit(main())
