"""What the benches share: Django in the bench's own process, and the database and processes a bench runs against.

Two kinds of bench use it:

- in-process benches (`test_database()`): Django's test client against a test database of their own for the
  configured DATABASE_URL (PostgreSQL when set, SQLite in memory otherwise), created and destroyed here;
- live benches (`live_stack(...)`): the real processes, as production runs them. A scratch folder (SQLite file,
  embedded broker, media, collected static files, logs), a scratch PostgreSQL database `<name>_<suffix>` when
  DATABASE_URL is set (created, then dropped), REDIS_URL when set; Django set up and migrated here, then sorasim,
  the web app under gunicorn (DEBUG off) and a Celery worker with beat, all with the same environment. Everything
  is stopped, dropped and removed when the block ends.
"""

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

# the webhook signing secret sorasim and the bench's keys share (any standard-webhooks secret will do)
WEBHOOK_SECRET = "whsec_YmVuY2gtd2ViaG9vay1zZWNyZXQtMDEyMzQ1Njc4OQ=="
# the targets are asserted (exit 1 when one is missed) on PostgreSQL + Redis; on the `make run` defaults (SQLite,
# the embedded broker) the numbers are printed only
ASSERT_TARGETS = bool(os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))


def arguments(doc, renders, job_seconds, renders_help="renders per mode"):
    """The parser of a live bench's options: --renders, --job-seconds (more may be added)."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--renders", type=int, default=renders, help=f"{renders_help} (default {renders})")
    parser.add_argument("--job-seconds", type=float, default=job_seconds,
                        help=f"sorasim's job time (default {job_seconds:g})")
    return parser


def setup_django(**env):
    """django.setup() in this process, with `env` put into the environment first (SORAWEB_TESTING on by default)."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soraweb.settings")
    os.environ.setdefault("SORAWEB_TESTING", "1")
    os.environ.setdefault("OUTBOUND_ALLOW_PRIVATE", "1")  # the bench's sorasim is on 127.0.0.1
    import django

    django.setup()


@contextlib.contextmanager
def test_database():
    """A test database of its own until the block ends, with the settings Django's test client needs: testserver
    allowed, DEBUG off, and plain static names (hashed ones need collectstatic's manifest), as in the tests."""
    from django.conf import settings
    from django.db import connection

    settings.ALLOWED_HOSTS = ["testserver"]
    settings.DEBUG = False
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    old_name = settings.DATABASES["default"]["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def people(*usernames, password="x"):
    """Users of these names, created."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    return [User.objects.create_user(name, f"{name}@example.org", password) for name in usernames]


def team_project(name, members):
    """A project `name` created by the first of `members` ((user, role) pairs), each of them a member."""
    from projects.models import Membership, Project

    project = Project.objects.create(name=name, created_by=members[0][0])
    for user, role in members:
        Membership.objects.create(project=project, user=user, role=role)
    return project


def analyze_tables():
    """Fresh planner statistics after a bulk fill (PostgreSQL), so the plans are those of a real database."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def print_routes(requests, done):
    """sorasim's requests by route and status, per completed render."""
    for route, count in sorted(requests.items()):
        print(f"      {count / max(done, 1):5.2f}  {route}")


def scratch_database(suffix):
    """A fresh PostgreSQL database `<name>_<suffix>` (when DATABASE_URL is set): its URL, and a function that drops
    it. Without DATABASE_URL: None, and a function that does nothing."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return None, lambda: None
    import dj_database_url
    import psycopg

    db = dj_database_url.parse(url)
    name = f"{db['NAME']}_{suffix}"
    admin = dict(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
                 password=db["PASSWORD"] or None, dbname="postgres", autocommit=True)

    def drop():
        with psycopg.connect(**admin) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    drop()
    with psycopg.connect(**admin) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name, drop


def wait_for_web(web_url, timeout=60):
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"{web_url}/healthz", timeout=2)  # any answer will do (503 while beat warms up)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@dataclass
class Stack:
    scratch: Path
    sim: object  # tests.fixtures.sorasim.SorasimProcess
    web_url: str
    worker: object  # tests.fixtures.worker.WorkerProcess

    def session_cookie(self, user):
        """The cookie of a session signed in as `user`, for requests to the web app."""
        from django.conf import settings
        from django.test import Client

        client = Client()
        client.force_login(user)
        return {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}

    def project_with_key(self, user, name, secret, webhooks=True, webhook_secret=WEBHOOK_SECRET, **fields):
        """A project `bench <name>` owned by `user`, and its own key `bench <name>` at sorasim (`fields` are the
        key's), whose webhooks, when it has them, sorasim posts to the web app."""
        from projects.models import Role
        from providers.models import ApiKey

        project = team_project(f"bench {name}", [(user, Role.OWNER)])
        key = ApiKey(name=f"bench {name}", base_url=self.sim.api_url, has_webhooks=webhooks, **fields)
        key.secret = secret
        key.webhook_secret = webhook_secret
        key.save()
        key.projects.add(project)
        urls = [f"{self.web_url}/webhooks/{key.webhook_uuid}/"] if webhooks else []
        self.sim.control.set_key(secret, webhook_urls=urls, webhook_secret=webhook_secret)
        return project, key

    def submit_per_mode(self, user, modes, count, subject):
        """For each mode of `modes` ({mode: project_with_key's arguments}), a project with its own key; then, sorasim's
        counters at zero, `count` renders submitted in each, as the studio does ("bench <mode> <i>: <subject>",
        sora-2, 1280x720, 4 s). The projects, the keys and the renders' ids, each by mode."""
        from renders import actions

        projects, keys = {}, {}
        for mode, key in modes.items():
            projects[mode], keys[mode] = self.project_with_key(user, mode, **key)
        self.sim.control.reset_counters()
        ids = {mode: [actions.submit(user, project, prompt=f"bench {mode} {i}: {subject}", model="sora-2",
                                     size="1280x720", seconds=4).pk for i in range(count)]
               for mode, project in projects.items()}
        return projects, keys, ids

    def requests_per_render(self, secrets, ids, bounds):
        """By mode: (its renders completed, sorasim's requests of its key by route and status, requests per
        completed render, whether that is within the mode's bound with every render completed). `secrets`, `ids`
        and `bounds` are by mode."""
        from collections import Counter

        from renders.models import Render
        from renders.states import Status

        counted = {}
        for mode, secret in secrets.items():
            done = Render.objects.filter(pk__in=ids[mode], status=Status.COMPLETED).count()
            requests = Counter(self.sim.control.counters(secret)["requests"])
            per = sum(requests.values()) / done if done else float("inf")
            counted[mode] = done, requests, per, per <= bounds[mode] and done == len(ids[mode])
        return counted

    def exit_status(self, ok, missed_note=None):
        """The bench's exit status: 1 when a target was missed on PostgreSQL + Redis, where they are asserted. When
        one was missed, the tail of the worker's log is printed (then `missed_note` on the defaults)."""
        if not ok:
            print(self.worker.log()[-3000:])
            if missed_note and not ASSERT_TARGETS:
                print(missed_note)
        return 0 if ok or not ASSERT_TARGETS else 1

    def wait_until_final(self, ids, deadline):
        """Until every render of `ids` is final, or the monotonic `deadline` passes."""
        from renders.models import Render
        from renders.states import FINAL

        while time.monotonic() < deadline:
            if Render.objects.filter(pk__in=ids, status__in=FINAL).count() == len(ids):
                return
            time.sleep(1)


@contextlib.contextmanager
def live_stack(api_keys, job_seconds, cache_prefix, webhook_secret=WEBHOOK_SECRET, sim_args=(),
               database_suffix="bench", **env):
    """The Stack, running until the block ends: sorasim (`--media fast`, jobs of `job_seconds`, accepting
    `api_keys`, signing webhooks with `webhook_secret`; more of its options in `sim_args`), gunicorn, a worker (on
    Redis, its queue purged first). `env`: more environment for this process and the children
    (WORKER_CONCURRENCY, ...). The site's default quotas are lifted in this process, where the bench submits."""
    sim_args = ("--media", "fast", "--job-seconds", str(job_seconds),
                *(arg for key in api_keys for arg in ("--api-key", key)), "--webhook-secret", webhook_secret,
                *sim_args, "--encode-workers", "1")
    scratch = Path(tempfile.mkdtemp(prefix="soraweb-bench-"))
    web = worker = web_log = None
    drop_db = lambda: None  # noqa: E731 - replaced once the database exists
    try:
        db_url, drop_db = scratch_database(database_suffix)
        env = {"SORAWEB_VAR_DIR": str(scratch / "var"), "MEDIA_ROOT": str(scratch / "media"), "SORAWEB_TESTING": "1",
               "DEBUG": "0", "SECURE_SSL_REDIRECT": "0", "LOG_LEVEL": "WARNING", "CACHE_KEY_PREFIX": cache_prefix,
               **env}
        if db_url:
            env["DATABASE_URL"] = db_url
        if not os.environ.get("REDIS_URL"):
            os.environ.pop("REDIS_URL", None)
        setup_django(**env)
        from django.conf import settings
        from django.core.management import call_command

        from tests.fixtures.sorasim import free_port, start_sorasim
        from tests.fixtures.worker import WorkerProcess, purge_queue

        call_command("migrate", verbosity=0)
        # DEBUG off serves hashed static names from the manifest collectstatic writes (STATIC_ROOT, in the scratch
        # folder): without it every full page is a 500
        call_command("collectstatic", interactive=False, verbosity=0)
        settings.QUOTA_DEFAULT_MONTHLY_SECONDS = None
        settings.QUOTA_DEFAULT_MONTHLY_SPEND_USD = None
        settings.QUOTA_DEFAULT_CONCURRENT_RENDERS = None

        web_port = free_port()
        web_url = f"http://127.0.0.1:{web_port}"
        child_env = {**os.environ, "SECRET_KEY": settings.SECRET_KEY,
                     "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS), "SITE_URL": web_url}
        with start_sorasim(*sim_args) as sim:
            web_log = open(scratch / "web.log", "wb")  # noqa: SIM115 - closed below
            web = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "soraweb.wsgi", "--bind", f"127.0.0.1:{web_port}", "--workers",
                 "1", "--threads", "4", "--log-level", "warning"],
                cwd=BASE_DIR, env=child_env, stdout=subprocess.DEVNULL, stderr=web_log)
            if os.environ.get("REDIS_URL"):
                purge_queue()  # a shared broker may hold an earlier run's messages (the embedded one is new)
            worker = WorkerProcess(child_env, scratch / "worker").start()
            wait_for_web(web_url)
            yield Stack(scratch=scratch, sim=sim, web_url=web_url, worker=worker)
    finally:
        if worker is not None:
            worker.stop()
        if web is not None:
            web.terminate()
            web.wait(10)
        if web_log is not None:
            web_log.close()
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        drop_db()
        shutil.rmtree(scratch, ignore_errors=True)
