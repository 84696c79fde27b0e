"""Provider requests per completed render, counted by sorasim: with webhooks, and with polling only.

Runs the real thing: sorasim (`--media fast`), the web app under gunicorn (to receive sorasim's signed
webhooks), a Celery worker with beat, and the pipeline's PRODUCTION poll settings (nothing shrunk). Two
projects, each with its own key: one whose provider posts webhooks, one polled only. Renders of both run at
the same time with sorasim's job time set to `--job-seconds` (default 120: the "render of 2 minutes" of the
target), so the bench takes about that long plus start-up. Every request sorasim answered for each key, of
any route and status, divided by the renders completed on it.

Targets: with webhooks at most 5 (create, one retrieve, three downloads); polling only at most 15.

    .venv/bin/python bench/bench_requests_per_render.py [--renders 3] [--job-seconds 120]

Uses DATABASE_URL (a scratch database `<name>_bench`, created and dropped) and REDIS_URL when set; else a
SQLite file and the embedded broker in a temporary folder (the `make run` defaults), where the targets are
printed, not asserted.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stack import WEBHOOK_SECRET, arguments, live_stack, people, print_routes  # noqa: E402

WEBHOOK_KEY, POLLING_KEY = "sk-bench-webhooks", "sk-bench-polling"
TARGETS = {"webhooks": 5, "polling only": 15}


def print_webhook_latency(web_url, key, count=50):
    """How fast the webhook endpoint answers a signed delivery (verify, store, enqueue), through gunicorn.
    The deliveries name videos no render has, so they are kept and change nothing."""
    import json
    import statistics
    from datetime import UTC, datetime

    import httpx
    from standardwebhooks import Webhook

    signer = Webhook(WEBHOOK_SECRET)
    times = []
    with httpx.Client() as client:
        for i in range(count):
            body = json.dumps({"id": f"evt_bench_{i}", "object": "event", "created_at": int(time.time()),
                               "type": "video.completed", "data": {"id": f"video_bench_{i}"}})
            msg_id = f"wh_bench_{i}_{time.time_ns()}"
            headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(time.time())),
                       "webhook-signature": signer.sign(msg_id, datetime.now(tz=UTC), body),
                       "content-type": "application/json"}
            started = time.perf_counter()
            response = client.post(f"{web_url}/webhooks/{key.webhook_uuid}/", content=body, headers=headers)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text
    times.sort()
    print(f"  webhook endpoint: {count} signed deliveries, median {statistics.median(times):.1f} ms, "
          f"p95 {times[int(len(times) * 0.95) - 1]:.1f} ms, max {times[-1]:.1f} ms (target: well under a second)")


def main():
    args = arguments(__doc__, renders=3, job_seconds=120.0).parse_args()

    with live_stack([WEBHOOK_KEY, POLLING_KEY], args.job_seconds, cache_prefix="bench") as stack:
        from renders.models import Render
        from renders.states import Status

        user, = people("bench", password="password")
        secrets = {"webhooks": WEBHOOK_KEY, "polling only": POLLING_KEY}
        started = time.monotonic()
        _projects, keys, ids = stack.submit_per_mode(
            user, {mode: {"secret": secret, "webhooks": mode == "webhooks"} for mode, secret in secrets.items()},
            args.renders, "a lighthouse at dusk")
        stack.wait_until_final([pk for pks in ids.values() for pk in pks], started + args.job_seconds * 3 + 120)
        elapsed = time.monotonic() - started

        print(f"requests per completed render, counted by sorasim ({args.renders} renders per mode, "
              f"sorasim job time {args.job_seconds:.0f} s, production poll settings; {elapsed:.0f} s)")
        counted = stack.requests_per_render(secrets, ids, TARGETS)
        for mode, (done, requests, per, met) in counted.items():
            spans = sorted((r.completed_at - r.created_at).total_seconds() for r in
                           Render.objects.filter(pk__in=ids[mode], status=Status.COMPLETED))
            median = spans[len(spans) // 2] if spans else float("nan")
            print(f"  {mode:13s} {per:5.2f} requests/render  (target <= {TARGETS[mode]}: "
                  f"{'met' if met else 'NOT met'}; {done}/{args.renders} completed; submit to stored: "
                  f"median {median:.1f} s)")
            print_routes(requests, done)
        print_webhook_latency(stack.web_url, keys["webhooks"])
        return stack.exit_status(all(met for *_, met in counted.values()), "targets not asserted on the defaults")


if __name__ == "__main__":
    sys.exit(main())
