"""Concurrent variation submits cannot overspend, nor leave a group half reserved: 12 submitters of 3 variations
each, started together behind one barrier on their own connections, against each limit with room for exactly 10
renders. Exactly 3 groups (9 renders) are accepted whole; every other submit is refused whole, saying that room
is left for 1; the books balance. Through renders.actions.submit_variations, the real entry point, on whichever
database the suite runs on (threads of this process; tests/quotas/test_concurrency.py has the two-process proof
of the guards themselves).
"""

import threading

import pytest
from django.db import connection

from tests.quotas import concurrency as race

SUBMITTERS = 12
VARIATIONS = 3
ACCEPTED = race.ROOM // VARIATIONS  # 3 groups of 3 fit in room for 10; the 1 left fits no group


def submit_group(user_id, project_id, barrier, outcomes):
    from django.contrib.auth import get_user_model

    from projects.models import Project
    from quotas.services import QuotaExceeded
    from renders import actions

    try:
        user = get_user_model().objects.get(pk=user_id)
        project = Project.objects.get(pk=project_id)
        barrier.wait(timeout=120)
        try:
            group = actions.submit_variations(user, project, VARIATIONS, prompt="A lighthouse at dusk, waves below",
                                              **race.RENDER)
            outcomes.append(("accepted", [render.pk for render in group]))
        except QuotaExceeded as refused:
            outcomes.append((refused.limit.code, str(refused)))
    except Exception as exc:  # reported, and the test fails on it
        outcomes.append(("error", repr(exc)))
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", list(race.SCENARIOS))
def test_concurrent_variation_submits_take_whole_groups_up_to_the_room(name, monkeypatch):
    from renders import tasks

    enqueued = []
    monkeypatch.setattr(tasks.create_render, "delay", lambda pk, due=None: enqueued.append(pk))
    jobs = race.prepare(name)[:SUBMITTERS]  # alternating authors where the scenario has two
    barrier = threading.Barrier(len(jobs))
    outcomes = []
    threads = [threading.Thread(target=submit_group, args=(*job, barrier, outcomes)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)

    assert [outcome for outcome in outcomes if outcome[0] == "error"] == []
    assert len(outcomes) == SUBMITTERS
    groups = [ids for code, ids in outcomes if code == "accepted"]
    assert len(groups) == ACCEPTED and all(len(ids) == VARIATIONS for ids in groups)
    refused = [(code, message) for code, message in outcomes if code != "accepted"]
    assert {code for code, _ in refused} == {name}
    if name == "concurrent_renders":
        assert {message for _, message in refused} == {
            "Room for 1 more render in flight (you may run 10 at once): choose 1 variation."}
    else:
        assert all(message.endswith("Choose 1 variation.") for _, message in refused)

    accepted = sorted(pk for ids in groups for pk in ids)
    books = race.summary(jobs)
    taken = VARIATIONS * ACCEPTED
    assert books["renders"] == accepted  # nothing of a refused group was left behind
    assert books["reservations"] == books["reserve_entries"] == taken
    assert books["ledger"] == {"seconds": 4000 * taken, "cents": 40 * taken, "slots": taken}
    assert books["user_counters"] == {"seconds": 4000 * taken, "cents": 40 * taken}
    assert books["project_cents"] == 40 * taken
    assert books["in_flight"] == taken
    assert books["imbalances"] == []
    assert sorted(enqueued) == accepted  # one create per accepted render, none for a refused group

    from renders.models import Render

    for ids in groups:  # each accepted group is one group, numbered 1 to 3
        rows = Render.objects.filter(pk__in=ids)
        assert len({row.variation_group for row in rows}) == 1
        assert sorted(row.variation_number for row in rows) == [1, 2, 3]
