"""Throughput under a provider's rate limit: renders through ONE worker against a key limited to N requests a minute.

Runs the real thing: sorasim (`--media fast`, the key limited to `--rpm` requests per minute in its rolling window),
the web app under gunicorn (to receive sorasim's signed webhooks), one Celery worker (concurrency 2, beat
embedded), PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set, and the pipeline's PRODUCTION settings (nothing
shrunk). The soraweb key has the same limit as its rolling window (rpm_limit) and its default concurrency
(max_concurrent 10), so the shared limiter, not the provider's 429, is what paces the work.

A render needs 5 requests (create, one retrieve after the webhook, three downloads), so 300 requests a minute
allow at most 60 renders a minute. Targets: every render completes, none fails by rate limiting, and the
throughput reaches at least 85 % of that ceiling. Prints the throughput (renders completed per minute, from the
first submit to the last completion), its ratio to the ceiling, the requests per render and the 429s sorasim
answered (counted by sorasim).

    .venv/bin/python bench/bench_throughput.py [--renders 200] [--rpm 300] [--job-seconds 5] [--concurrency 2]

Uses DATABASE_URL (a scratch database `<name>_bench`, created and dropped) and REDIS_URL when set; else a SQLite
file and the embedded broker in a temporary folder (the `make run` defaults), where the target is printed, not
asserted. Takes a few minutes by nature:
200 renders at 60 a minute.
"""

import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stack import ASSERT_TARGETS, arguments, live_stack, people  # noqa: E402

API_KEY = "sk-bench-throughput"
WEBHOOK_SECRET = "whsec_YmVuY2gtdGhyb3VnaHB1dC1zZWNyZXQtMDEyMzQ1Njc4OQ=="
REQUESTS_PER_RENDER = 5
TARGET_RATIO = 0.85


def print_timeline(ids, start, bucket=15):
    """Provider requests and completions per `bucket` seconds, from the renders' timelines: where the time went."""
    from renders.models import RenderEvent
    from renders.states import Status

    rows = Counter()
    events = RenderEvent.objects.filter(render__in=ids).values_list("created_at", "kind", "status_to", "message")
    for at, kind, status_to, message in events:
        slot = int((at - start).total_seconds() // bucket)
        if status_to == Status.SENDING:
            rows[slot, "creates"] += 1
        elif kind == "request" and message.startswith("Stored the"):
            rows[slot, "downloads"] += 1
        elif status_to == Status.DOWNLOADING:
            rows[slot, "retrieves"] += 1
        elif status_to == Status.COMPLETED:
            rows[slot, "completed"] += 1
    last = max((slot for slot, _ in rows), default=-1)
    print(f"  timeline ({bucket} s buckets): creates / retrieves / downloads sent, renders completed")
    for slot in range(last + 1):
        counts = [rows[slot, name] for name in ("creates", "retrieves", "downloads", "completed")]
        print(f"      {slot * bucket:4d}s  {counts[0]:4d} {counts[1]:4d} {counts[2]:4d}   {counts[3]:4d}  "
              f"({sum(counts[:3]) * 60 / bucket:.0f} requests/min)")


def main():
    parser = arguments(__doc__, renders=200, job_seconds=5.0, renders_help="renders to submit")
    parser.add_argument("--rpm", type=int, default=300, help="the key's requests per minute (default 300)")
    parser.add_argument("--concurrency", type=int, default=2, help="the worker's processes (default 2)")
    args = parser.parse_args()

    with live_stack([API_KEY], args.job_seconds, cache_prefix="bench-throughput", webhook_secret=WEBHOOK_SECRET,
                    sim_args=("--rpm", str(args.rpm)), database_suffix="bench_throughput",
                    WORKER_CONCURRENCY=str(args.concurrency)) as stack:
        from renders.models import Render
        from renders.states import FINAL, Status

        user, = people("bench", password="password")
        key = {"secret": API_KEY, "webhook_secret": WEBHOOK_SECRET, "rpm_limit": args.rpm}
        started = time.monotonic()
        ids = stack.submit_per_mode(user, {"throughput": key}, args.renders, "a lighthouse at dusk")[2]["throughput"]
        submitted = time.monotonic() - started
        ceiling = args.rpm / REQUESTS_PER_RENDER  # renders a minute
        stack.wait_until_final(ids, started + 60 * args.renders / ceiling * 3 + 120)

        renders = Render.objects.filter(pk__in=ids)
        done = renders.filter(status=Status.COMPLETED)
        failed = Counter(renders.filter(status=Status.FAILED).values_list("error_code", flat=True))
        last = max(done.values_list("completed_at", flat=True), default=None)
        first = min(renders.values_list("created_at", flat=True))
        elapsed = (last - first).total_seconds() if last else float("inf")
        throughput = done.count() / elapsed * 60 if last else 0.0
        ratio = throughput / ceiling
        counters = stack.sim.control.counters(API_KEY)
        requests = Counter(counters["requests"])
        total = sum(requests.values())
        limited = sum(n for route, n in requests.items() if route.endswith(" 429"))
        per = total / done.count() if done.count() else float("inf")
        spans = sorted((r.completed_at - r.created_at).total_seconds() for r in done)

        print(f"throughput under a rate limit: {args.renders} renders, one worker (concurrency "
              f"{args.concurrency}), key limited to {args.rpm} requests/min (ours and sorasim's), "
              f"job time {args.job_seconds:g} s, production pipeline settings")
        print(f"  completed      {done.count()}/{args.renders}  (failed: {dict(failed) or 'none'}; "
              f"still in flight: {renders.exclude(status__in=FINAL).count()})")
        print(f"  throughput     {throughput:.1f} renders/min over {elapsed:.0f} s "
              f"(submitting took {submitted:.0f} s)")
        print(f"  ratio          {ratio:.1%} of the ceiling of {ceiling:.0f} renders/min (target >= "
              f"{TARGET_RATIO:.0%})")
        print(f"  requests       {per:.2f} per completed render ({total} in all; {limited} answered 429)")
        if spans:
            print(f"  submit->stored median {spans[len(spans) // 2]:.0f} s, max {spans[-1]:.0f} s")
        for route, count in sorted(requests.items()):
            print(f"      {count:6d}  {route}")
        print_timeline(ids, first)
        ok = done.count() == args.renders and ratio >= TARGET_RATIO and not failed
        print(f"  target {'met' if ok else 'NOT met'}{'' if ASSERT_TARGETS else ' (not asserted on the defaults)'}")
        return stack.exit_status(ok)


if __name__ == "__main__":
    sys.exit(main())
