"""The embedded broker (the `make run` default, no REDIS_URL) under concurrent producers and consumers.

Four producer processes send 5,000 tasks with unique ids through the app's settings while two real Celery workers
(prefork, late acks, as the Procfile runs them) take them; each task run writes its id down. Every id must be
written exactly once, both workers must live to a warm shutdown and exit 0, and none may log the
"Unrecoverable error" of a torn message. Everything runs in real processes on the defaults (SORAWEB_VAR_DIR in a
temporary folder, DATABASE_URL and REDIS_URL unset), whatever the suite's own database and broker are.
"""

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from celery import shared_task

BASE_DIR = Path(__file__).resolve().parent.parent
MESSAGES = 5000
PRODUCERS = 4
CONSUMERS = 2
RECORDS_ENV = "EMBEDDED_BROKER_RECORDS"
# the workers are done when nothing more arrives for this long (a busy machine slows them, it does not stop them)
STALL_SECONDS = 30


@shared_task(name="tests.embedded_broker.record", ignore_result=True)
def record(message_id):
    # one file per process: a run's line is never interleaved with another's
    with open(Path(os.environ[RECORDS_ENV]) / f"{os.getpid()}.txt", "a") as out:
        out.write(f"{message_id}\n")


def produce(first, count):
    """A producer process: sends ids first .. first + count - 1, as the web enqueues a render's task."""
    import django

    django.setup()
    for message_id in range(first, first + count):
        record.delay(message_id)


def _defaults_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(SORAWEB_TESTING="1", SORAWEB_VAR_DIR=str(tmp_path / "var"), PYTHONUNBUFFERED="1",
               DJANGO_SETTINGS_MODULE=os.environ.get("DJANGO_SETTINGS_MODULE", "soraweb.settings"))
    env[RECORDS_ENV] = str(tmp_path / "records")
    return env


def _recorded(records):
    """Ids written down so far (complete lines only: a worker may be writing one right now)."""
    ids = []
    for path in records.glob("*.txt"):
        text = path.read_text()
        ids.extend(int(line) for line in text[: text.rfind("\n") + 1].split())
    return ids


@pytest.mark.slow(100)
@pytest.mark.integration
def test_no_message_is_lost_or_delivered_twice_under_concurrent_producers_and_workers(tmp_path):
    env = _defaults_env(tmp_path)
    (tmp_path / "records").mkdir()
    workers = []
    for n in range(CONSUMERS):
        log = open(tmp_path / f"worker{n}.log", "wb")  # noqa: SIM115 - closed below
        cmd = [sys.executable, "-m", "celery", "-A", "soraweb", "worker", "--pool", "prefork", "--concurrency", "2",
               "-Q", "celery", "-n", f"stress{n}@%h", "--include", __name__, "--without-gossip", "--without-mingle",
               "--loglevel", "INFO"]
        workers.append((subprocess.Popen(cmd, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT), log))
    # all at once: the producers' first sends race the workers' start-up (queue and binding declarations too)
    per_producer = MESSAGES // PRODUCERS
    producers = [
        subprocess.Popen([sys.executable, "-c", f"from {__name__} import produce; produce({n * per_producer}, "
                          f"{per_producer})"], cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for n in range(PRODUCERS)
    ]
    try:
        for producer in producers:
            output = producer.communicate(timeout=300)[0].decode(errors="replace")
            assert producer.returncode == 0, output[-5000:]

        # wait for the workers to take everything; give up once nothing more arrives for a while
        count, last_progress, deadline = -1, time.monotonic(), time.monotonic() + 900
        while time.monotonic() < deadline and time.monotonic() - last_progress < STALL_SECONDS:
            now = len(_recorded(tmp_path / "records"))
            if now >= MESSAGES:
                break
            if now != count:
                count, last_progress = now, time.monotonic()
            time.sleep(0.5)
        alive = [process.poll() is None for process, _ in workers]
    finally:
        for process, _ in workers:
            if process.poll() is None:
                process.terminate()  # a warm shutdown, as honcho stops the worker
        for process, log in workers:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
            log.close()

    logs = "\n".join((tmp_path / f"worker{n}.log").read_text(errors="replace")[-4000:] for n in range(CONSUMERS))
    assert alive == [True] * CONSUMERS, f"a worker died:\n{logs}"
    assert [process.returncode for process, _ in workers] == [0] * CONSUMERS, logs
    assert "Unrecoverable error" not in logs, logs
    got = Counter(_recorded(tmp_path / "records"))
    lost = sorted(set(range(MESSAGES)) - set(got))
    twice = sorted(message_id for message_id, times in got.items() if times > 1)
    assert (len(lost), lost[:20]) == (0, []), f"lost {len(lost)} messages"
    assert (len(twice), twice[:20]) == (0, []), f"{len(twice)} messages delivered more than once"
    assert len(got) == MESSAGES
    # the messages went through soraweb.broker's folders, and every one was a whole message
    broker = tmp_path / "var" / "broker"
    assert (broker / "queues" / "celery").is_dir()
    assert [path.name for folder in ("staging", "claimed", "broken", "queues/celery")
            for path in (broker / folder).iterdir()] == []
