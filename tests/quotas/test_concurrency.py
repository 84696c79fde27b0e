"""Concurrent submissions cannot overspend: 50 submits through renders.actions.submit against limits with room
for exactly 10 are accepted exactly 10 times, and the books balance.

Four scenarios (monthly seconds, monthly spend, renders in flight, a project budget two users share), proved
three ways: 50 threads in this process on PostgreSQL; the 50 split over two spawned processes on PostgreSQL;
and the same on a SQLite file (the `make run` default). The submitters start together behind one barrier (a
multiprocessing barrier across the processes), each on its own database connection, and nothing but the
database guards the path. The process runs take every scenario in turn in the same two processes.
"""

import multiprocessing
import threading
from urllib.parse import quote

import pytest
from django.db import connection

from tests.quotas import concurrency as race

SCENARIOS = list(race.SCENARIOS)


def assert_exactly_the_room(name, outcomes, books, enqueued):
    errors = [outcome for outcome in outcomes if outcome[0] == "error"]
    assert errors == [], name
    assert len(outcomes) == race.SUBMITTERS
    assert len({conn for _, _, conn in outcomes}) == race.SUBMITTERS  # one connection per submitter
    accepted = sorted(render_id for outcome, render_id, _ in outcomes if outcome == "accepted")
    refused = [(code, message) for code, message, _ in outcomes if code != "accepted"]
    assert len(accepted) == race.ROOM, name
    # every refusal names the limit under test, with a message for the user
    assert {code for code, _ in refused} == {name}
    assert all(message for _, message in refused)
    # the books: 10 renders and 10 reservations, nothing of the 40 refused, and the counters equal the ledger
    assert books["renders"] == accepted
    assert books["reservations"] == books["reserve_entries"] == race.ROOM
    assert books["ledger"] == {"seconds": 4000 * race.ROOM, "cents": 40 * race.ROOM, "slots": race.ROOM}
    assert books["user_counters"] == {"seconds": 4000 * race.ROOM, "cents": 40 * race.ROOM}
    assert books["project_cents"] == 40 * race.ROOM
    assert books["in_flight"] == race.ROOM
    assert books["imbalances"] == []
    # exactly one create enqueued per accepted render (on commit: a refused submit sends nothing)
    assert sorted(render_id for render_id in enqueued if render_id in set(books["renders"]) | set(accepted)) == (
        accepted)


def spawn(target, *args):
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, results))
    process.start()
    result = results.get(timeout=300)
    process.join(timeout=60)
    return result


def race_in_two_processes(env, jobs_by_name):
    """Every scenario in turn, its submitters split over the same two processes; {scenario: outcomes}."""
    ctx = multiprocessing.get_context("spawn")
    barriers = {name: ctx.Barrier(len(jobs)) for name, jobs in jobs_by_name.items()}
    plans = [[], []]
    for name, jobs in jobs_by_name.items():
        plans[0].append((name, jobs[0::2]))  # jobs alternate authors where there are two: both in each process
        plans[1].append((name, jobs[1::2]))
    results = ctx.Queue()
    processes = [ctx.Process(target=race.process_main, args=(env, plan, barriers, results)) for plan in plans]
    for process in processes:
        process.start()
    outcomes = {name: [] for name in jobs_by_name}
    for _ in range(len(processes) * len(jobs_by_name)):
        name, got = results.get(timeout=300)
        outcomes[name] += got
    for process in processes:
        process.join(timeout=60)
    assert [process.exitcode for process in processes] == [0, 0]
    return outcomes


def child_env(var_dir, database_url):
    # no REDIS_URL: the children enqueue into kombu's filesystem broker under var_dir, where the test reads it
    return {"DATABASE_URL": database_url, "REDIS_URL": None, "SORAWEB_VAR_DIR": str(var_dir),
            "SORAWEB_TESTING": "1", "DJANGO_SETTINGS_MODULE": "soraweb.settings",
            "QUOTA_DEFAULT_PROJECT_BUDGET_USD": ""}


def postgres_url():
    s = connection.settings_dict
    auth = quote(s["USER"]) + (f":{quote(s['PASSWORD'])}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


POSTGRES_PROOF = "the PostgreSQL proof (50 connections at once); the SQLite proof below runs on both passes"


@pytest.mark.postgres_only(POSTGRES_PROOF)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", SCENARIOS)
def test_it_accepts_exactly_the_room_from_50_threads_on_postgres(name, monkeypatch):
    from renders import tasks

    enqueued = []
    # the broker is not under test here; the process runs below use a real one and read it back
    monkeypatch.setattr(tasks.create_render, "delay", lambda pk, due=None: enqueued.append(pk))
    jobs = race.prepare(name)
    outcomes = race.run_threads(jobs, threading.Barrier(len(jobs)))
    assert_exactly_the_room(name, outcomes, race.summary(jobs), enqueued)


@pytest.mark.slow(20)
@pytest.mark.postgres_only(POSTGRES_PROOF)
@pytest.mark.django_db(transaction=True)
def test_it_accepts_exactly_the_room_from_two_processes_on_postgres(tmp_path):
    jobs = {name: race.prepare(name) for name in SCENARIOS}
    outcomes = race_in_two_processes(child_env(tmp_path, postgres_url()), jobs)
    enqueued = race.queued_render_ids(tmp_path)
    for name in SCENARIOS:
        assert_exactly_the_room(name, outcomes[name], race.summary(jobs[name]), enqueued)


@pytest.mark.slow(25)
def test_it_accepts_exactly_the_room_from_two_processes_on_sqlite(tmp_path):
    # a migrated SQLite file with the site's settings (WAL, IMMEDIATE transactions, a busy timeout)
    env = child_env(tmp_path, None)
    jobs = spawn(race.prepare_main, env, SCENARIOS)
    assert "error" not in jobs, jobs
    outcomes = race_in_two_processes(env, jobs)
    books = spawn(race.summary_main, env, jobs)
    assert "error" not in books, books
    enqueued = race.queued_render_ids(tmp_path)
    for name in SCENARIOS:
        assert_exactly_the_room(name, outcomes[name], books[name], enqueued)
