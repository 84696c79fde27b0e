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

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

WEBHOOK_KEY, POLLING_KEY = "sk-bench-webhooks", "sk-bench-polling"
WEBHOOK_SECRET = "whsec_YmVuY2gtd2ViaG9vay1zZWNyZXQtMDEyMzQ1Njc4OQ=="
TARGETS = {"webhooks": 5, "polling only": 15}
# the targets are asserted (exit 1 when one is missed) on PostgreSQL + Redis; on the `make run` defaults (SQLite,
# the embedded broker) the numbers are printed only
ASSERT_TARGETS = bool(os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))


def scratch_database():
    """A fresh database for the bench, and a function that drops it."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return None, lambda: None
    import dj_database_url
    import psycopg

    db = dj_database_url.parse(url)
    name = f"{db['NAME']}_bench"
    admin = dict(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
                 password=db["PASSWORD"] or None, dbname="postgres", autocommit=True)

    def drop():
        with psycopg.connect(**admin) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    drop()
    with psycopg.connect(**admin) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name, drop


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
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--renders", type=int, default=3, help="renders per mode (default 3)")
    parser.add_argument("--job-seconds", type=float, default=120.0, help="sorasim's job time (default 120)")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="soraweb-bench-"))
    db_url, drop_db = scratch_database()
    env = {
        "SORAWEB_VAR_DIR": str(scratch / "var"),
        "MEDIA_ROOT": str(scratch / "media"),
        "SORAWEB_TESTING": "1",
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
        "CACHE_KEY_PREFIX": "bench",
    }
    if db_url:
        env["DATABASE_URL"] = db_url
    os.environ.update(env)
    if not os.environ.get("REDIS_URL"):
        os.environ.pop("REDIS_URL", None)

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soraweb.settings")
    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from tests.fixtures.sorasim import free_port, start_sorasim
    from tests.fixtures.worker import WorkerProcess

    call_command("migrate", verbosity=0)
    from projects.models import Membership, Project, Role
    from providers.models import ApiKey
    from renders import actions
    from renders.states import FINAL, Status

    web_port = free_port()
    web_url = f"http://127.0.0.1:{web_port}"
    child_env = {**os.environ, "SECRET_KEY": settings.SECRET_KEY,
                 "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS), "SITE_URL": web_url}
    sim_args = ("--media", "fast", "--job-seconds", str(args.job_seconds), "--api-key", WEBHOOK_KEY,
                "--api-key", POLLING_KEY, "--webhook-secret", WEBHOOK_SECRET, "--encode-workers", "1")
    web = worker = None
    try:
        with start_sorasim(*sim_args) as sim:
            web = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "soraweb.wsgi", "--bind", f"127.0.0.1:{web_port}", "--workers",
                 "1", "--threads", "4", "--log-level", "warning"],
                cwd=BASE_DIR, env=child_env, stdout=subprocess.DEVNULL, stderr=open(scratch / "web.log", "wb"))
            worker = WorkerProcess(child_env, scratch / "worker").start()

            user = get_user_model().objects.create_user("bench", "bench@example.org", "password")
            renders = {}
            for mode, secret, webhooks in (("webhooks", WEBHOOK_KEY, True), ("polling only", POLLING_KEY, False)):
                project = Project.objects.create(name=f"bench {mode}", created_by=user)
                Membership.objects.create(project=project, user=user, role=Role.OWNER)
                key = ApiKey(name=f"bench {mode}", base_url=sim.api_url, has_webhooks=webhooks)
                key.secret = secret
                key.webhook_secret = WEBHOOK_SECRET
                key.save()
                key.projects.add(project)
                urls = [f"{web_url}/webhooks/{key.webhook_uuid}/"] if webhooks else []
                sim.control.set_key(secret, webhook_urls=urls, webhook_secret=WEBHOOK_SECRET)
                renders[mode] = (secret, project)
            settings.QUOTA_DEFAULT_MONTHLY_SECONDS = None
            settings.QUOTA_DEFAULT_MONTHLY_SPEND_USD = None
            settings.QUOTA_DEFAULT_CONCURRENT_RENDERS = None
            sim.control.reset_counters()

            started = time.monotonic()
            ids = {}
            for mode, (_secret, project) in renders.items():
                ids[mode] = [actions.submit(user, project, prompt=f"bench {mode} {i}: a lighthouse at dusk",
                                             model="sora-2", size="1280x720", seconds=4).pk
                             for i in range(args.renders)]
            from renders.models import Render

            all_ids = [pk for pks in ids.values() for pk in pks]
            deadline = started + args.job_seconds * 3 + 120
            while time.monotonic() < deadline:
                if Render.objects.filter(pk__in=all_ids, status__in=FINAL).count() == len(all_ids):
                    break
                time.sleep(1)
            elapsed = time.monotonic() - started

            print(f"requests per completed render, counted by sorasim ({args.renders} renders per mode, "
                  f"sorasim job time {args.job_seconds:.0f} s, production poll settings; {elapsed:.0f} s)")
            ok = True
            for mode, (secret, _project) in renders.items():
                done = Render.objects.filter(pk__in=ids[mode], status=Status.COMPLETED).count()
                requests = Counter(sim.control.counters(secret)["requests"])
                total = sum(requests.values())
                per = total / done if done else float("inf")
                met = per <= TARGETS[mode] and done == args.renders
                ok &= met
                spans = sorted((r.completed_at - r.created_at).total_seconds() for r in
                               Render.objects.filter(pk__in=ids[mode], status=Status.COMPLETED))
                median = spans[len(spans) // 2] if spans else float("nan")
                print(f"  {mode:13s} {per:5.2f} requests/render  (target <= {TARGETS[mode]}: "
                      f"{'met' if met else 'NOT met'}; {done}/{args.renders} completed; submit to stored: "
                      f"median {median:.1f} s)")
                for route, count in sorted(requests.items()):
                    print(f"      {count / max(done, 1):5.2f}  {route}")
            print_webhook_latency(web_url, ApiKey.objects.get(name="bench webhooks"))
            if not ok:
                print(worker.log()[-3000:])
                if not ASSERT_TARGETS:
                    print("targets not asserted on the defaults")
            return 0 if ok or not ASSERT_TARGETS else 1
    finally:
        if worker is not None:
            worker.stop()
        if web is not None:
            web.terminate()
            web.wait(10)
        from django.db import connections

        connections.close_all()
        drop_db()


if __name__ == "__main__":
    sys.exit(main())
