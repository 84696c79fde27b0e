"""The concurrent-submission proof, importable by spawned processes (no pytest in here).

Each scenario leaves room for exactly 10 renders of 4 s at $0.40 (sora-2, 1280x720) and fires 50 submits
through renders.actions.submit, the real entry point. Every submitter loads its user and project on its
own connection, waits at one barrier with all the others, submits, and closes its connection.
"""

import base64
import json
import os
import threading
from decimal import Decimal
from pathlib import Path

SUBMITTERS = 50
ROOM = 10
RENDER = {"model": "sora-2", "size": "1280x720", "seconds": 4}  # $0.40 each
ROOMY = {"monthly_seconds": 100_000, "monthly_spend_usd": Decimal("100000"), "concurrent_renders": 1000}

SCENARIOS = {
    # the limit under test, the allowances per user, the project budget, who submits
    "monthly_seconds": {"allowances": {"alice": {**ROOMY, "monthly_seconds": 4 * ROOM}}, "budget": None,
                        "authors": ["alice"] * SUBMITTERS},
    "monthly_spend": {"allowances": {"alice": {**ROOMY, "monthly_spend_usd": Decimal("0.40") * ROOM}},
                      "budget": None, "authors": ["alice"] * SUBMITTERS},
    "concurrent_renders": {"allowances": {"alice": {**ROOMY, "concurrent_renders": ROOM}}, "budget": None,
                           "authors": ["alice"] * SUBMITTERS},
    "project_budget": {"allowances": {"alice": ROOMY, "bob": ROOMY}, "budget": Decimal("0.40") * ROOM,
                       "authors": ["alice", "bob"] * (SUBMITTERS // 2)},
}


def setup_django(env):
    """In a spawned process: point Django at the database under test (env), then set it up."""
    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    import django

    django.setup()


def prepare(name):
    """Users, a shared project and the scenario's limits; returns one (user id, project id) per submitter."""
    from django.contrib.auth import get_user_model

    from projects.models import Membership, Project, Role
    from quotas.models import ProjectBudget, UserAllowance

    scenario = SCENARIOS[name]
    users = {}
    for username in ("alice", "bob"):  # a pair per scenario: one database can hold them all
        users[username], _ = get_user_model().objects.get_or_create(username=f"{username}-{name}")
    project = Project.objects.create(name=f"Race {name}", created_by=users["alice"])
    for username, user in users.items():
        Membership.objects.create(project=project, user=user, role=Role.OWNER if username == "alice" else Role.EDITOR)
        UserAllowance.objects.update_or_create(user=user, defaults=scenario["allowances"].get(username, ROOMY))
    if scenario["budget"] is not None:
        ProjectBudget.objects.create(project=project, monthly_budget_usd=scenario["budget"])
    return [(users[author].pk, project.pk) for author in scenario["authors"]]


def _connection_id(connection):
    if connection.vendor == "postgresql":
        return connection.connection.info.backend_pid
    return id(connection.connection)


def submit_once(user_id, project_id, barrier, outcomes):
    from django.contrib.auth import get_user_model
    from django.db import connection

    from projects.models import Project
    from quotas.services import QuotaExceeded
    from renders import actions

    try:
        user = get_user_model().objects.get(pk=user_id)
        project = Project.objects.get(pk=project_id)
        conn = _connection_id(connection)  # opened before the barrier: 50 live connections at once
        barrier.wait(timeout=120)
        try:
            render = actions.submit(user, project, prompt="A lighthouse at dusk, waves below", **RENDER)
            outcomes.append(("accepted", render.pk, conn))
        except QuotaExceeded as refused:
            outcomes.append((refused.limit.code, str(refused), conn))
    except Exception as exc:  # reported, and the test fails on it
        outcomes.append(("error", repr(exc), None))
    finally:
        connection.close()


def run_threads(jobs, barrier):
    outcomes = []  # list.append is atomic; no lock anywhere on the path under test
    threads = [threading.Thread(target=submit_once, args=(*job, barrier, outcomes)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    return outcomes


def process_main(env, plan, barriers, results):
    """A spawned process: for each scenario in turn, its share of the submitters as threads, behind that
    scenario's barrier, which the other process's threads wait at too. Puts (scenario, outcomes) per scenario."""
    done = set()
    try:
        setup_django(env)
        for name, jobs in plan:
            results.put((name, run_threads(jobs, barriers[name])))
            done.add(name)
    except Exception as exc:
        for name, _ in plan:
            if name not in done:
                barriers[name].abort()
                results.put((name, [("error", repr(exc), None)]))


def prepare_main(env, names, results):
    """A spawned process: migrate a fresh database and prepare every scenario in it."""
    try:
        setup_django(env)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        results.put({name: prepare(name) for name in names})
    except Exception as exc:
        results.put({"error": repr(exc)})


def summary_main(env, jobs_by_name, results):
    try:
        setup_django(env)
        results.put({name: summary(jobs) for name, jobs in jobs_by_name.items()})
    except Exception as exc:
        results.put({"error": repr(exc)})


def summary(jobs):
    """What the database holds for one scenario (its users and project) after the race: renders, reservations,
    the ledger, the counters, and the verdict of the balance check over the whole database."""
    from django.db.models import Sum

    from quotas.balance import imbalances
    from quotas.models import LedgerEntry, ProjectMonth, Reservation, UserMonth, UserSlots
    from renders.models import Render

    users = {user_id for user_id, _ in jobs}
    project = jobs[0][1]
    entries = LedgerEntry.objects.filter(project_id=project)
    ledger = entries.aggregate(seconds=Sum("seconds_reserved_ms"), cents=Sum("spend_reserved_cents"),
                               slots=Sum("slots"))
    counters = UserMonth.objects.filter(user__in=users).aggregate(seconds=Sum("seconds_reserved_ms"),
                                                                  cents=Sum("spend_reserved_cents"))
    problems, _ = imbalances()
    return {
        "renders": sorted(Render.objects.filter(project_id=project).values_list("pk", flat=True)),
        "reservations": Reservation.objects.filter(project_id=project, state="held").count(),
        "reserve_entries": entries.filter(kind="reserve").count(),
        "ledger": ledger,
        "user_counters": counters,
        "project_cents": ProjectMonth.objects.filter(project_id=project).aggregate(
            cents=Sum("spend_reserved_cents"))["cents"],
        "in_flight": UserSlots.objects.filter(user__in=users).aggregate(n=Sum("in_flight"))["n"],
        "imbalances": problems,
    }


def queued_render_ids(var_dir):
    """Render ids of the create messages waiting in the embedded broker under var_dir (soraweb.broker: one file
    per message, in its queue's folder)."""
    ids = []
    for path in sorted((Path(var_dir) / "broker" / "queues").glob("*/*.msg")):
        message = json.loads(path.read_text())
        body = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        assert message["headers"]["task"] == "renders.tasks.create_render", message["headers"]["task"]
        ids.append(args[0])
    return sorted(ids)
