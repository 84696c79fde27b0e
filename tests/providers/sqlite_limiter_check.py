"""Run by test_limiter in a subprocess: the limiter's race tests on a SQLite file (WAL, IMMEDIATE), as
`make run` uses it. Prints "requests=N jobs=M"."""

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soraweb.settings")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from providers import limiter  # noqa: E402
from providers.models import ApiKey  # noqa: E402


def run_concurrently(count, fn):
    barrier = threading.Barrier(count)

    def worker(_):
        try:
            barrier.wait()
            return fn()
        finally:
            connection.close()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(worker, range(count)))


if __name__ == "__main__":
    assert connection.vendor == "sqlite", connection.vendor
    call_command("migrate", "providers", skip_checks=True, verbosity=0)
    key = ApiKey(name="sqlite", base_url="http://127.0.0.1:1/v1", rpm_limit=int(sys.argv[1]),
                 max_concurrent=int(sys.argv[2]))
    key.secret = "sk-sqlite-check"
    key.save()
    requests = run_concurrently(50, lambda: limiter.acquire_request(key.pk)).count(0.0)
    jobs = run_concurrently(30, lambda: limiter.acquire_job_slot(key.pk)).count(True)
    print(f"requests={requests} jobs={jobs}")
