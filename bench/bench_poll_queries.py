"""The every-page poll: what it costs on an unchanged and on a changed project, and how long a teammate's render
takes to reach an open studio page (target: within 5 s; an unchanged project: 1 query of the view's own).

    SORAWEB_TESTING=1 .venv/bin/python bench/bench_poll_queries.py [--renders 2000] [--repeat 40] [--submits 8]

It runs in a database of its own (Django's test database for the configured DATABASE_URL: PostgreSQL when set,
SQLite in memory otherwise), created and destroyed here. Costs are the whole request inside Django through the
test client (middleware, session, user, view), median of --repeat after a warm-up, with its queries, and the
view alone (called with the user already loaded, as the middleware leaves it). The latency is measured for real:
a thread polls like the page's element (every STUDIO_NOTICE_POLL_SECONDS, sending the values of the answer it
last applied) while teammates' renders are created at random moments through the ordinary hook (a render and
its "submitted" event, committed); each figure is from the commit to the answer that carries the new card.
"""

import argparse
import random
import re
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stack import analyze_tables, people, setup_django, team_project, test_database  # noqa: E402

setup_django()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client, RequestFactory  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_htmx.middleware import HtmxDetails  # noqa: E402

POLL_URL = re.compile(r'hx-get="/notices/\?after=(\d+)&amp;revision=(\d+)"')


def teammate_render(project, author, n):
    """A teammate's render as a submit makes it (the row, then its "submitted" event), committed."""
    from renders.models import EventKind, Render

    with transaction.atomic():
        now = timezone.now()
        render = Render.objects.create(project=project, author=author, prompt=f"Take {n}: a lighthouse at dusk",
                                       model="sora-2", size="720x1280", seconds=4, created_at=now, updated_at=now)
        render.events.create(kind=EventKind.SUBMITTED, status_to=render.status, source="user", message="bench")
    return render


def studio_values(client, project):
    html = client.get(f"/projects/{project.pk}/").content.decode()
    after, revision = POLL_URL.search(html).groups()
    return int(after), int(revision)


def measure(client, prepare, headers, repeat):
    """(median ms, best ms, queries of the whole request, status) of the poll; `prepare()` sets the scene before
    each request and returns the URL the page's element would ask."""
    for _ in range(3):
        assert client.get(prepare(), **headers).status_code in (200, 204)
    times = []
    for _ in range(repeat):
        url = prepare()
        started = time.perf_counter()
        client.get(url, **headers)
        times.append((time.perf_counter() - started) * 1000)
    url = prepare()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **headers)
    return statistics.median(times), min(times), len(queries), response.status_code


def view_queries(user, url, params, page):
    """Queries of the view alone: the request as the middleware leaves it (the user loaded)."""
    from renders.views.studio import notices_poll

    request = RequestFactory().get(url, params, HTTP_HX_REQUEST="true",
                                   HTTP_HX_CURRENT_URL="http://testserver" + page)
    request.user = user
    request.htmx = HtmxDetails(request)
    with CaptureQueriesContext(connection) as queries:
        notices_poll(request)
    return len(queries)


def latency(project, viewer, teammate, submits, interval):
    """Seconds from a teammate render's commit to the poll answer that carries its card, for each of `submits`."""
    client = Client()
    client.force_login(viewer)
    after, revision = studio_values(client, project)
    arrived, stop = {}, threading.Event()
    page = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": f"http://testserver/projects/{project.pk}/"}

    def the_page():
        nonlocal after, revision
        next_poll = time.monotonic() + interval
        while not stop.is_set():
            time.sleep(max(0.0, next_poll - time.monotonic()))
            next_poll += interval
            response = client.get(f"/notices/?after={after}&revision={revision}", **page)
            received = time.monotonic()
            if response.status_code == 204:
                continue
            html = response.content.decode()
            for render_id in re.findall(r'id="render-(\d+)"', html):
                arrived.setdefault(int(render_id), received)
            after, revision = map(int, POLL_URL.search(html).groups())
        connection.close()

    thread = threading.Thread(target=the_page, daemon=True)
    thread.start()
    committed = {}
    rng = random.Random(16)
    for n in range(submits):
        time.sleep(interval * (1 + rng.random()))  # any phase of the page's interval
        render = teammate_render(project, teammate, n)
        committed[render.pk] = time.monotonic()
    deadline = time.monotonic() + interval * 3 + 5
    while time.monotonic() < deadline and len(arrived) < submits:
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=interval * 2 + 5)
    return [arrived[pk] - at if pk in arrived else float("inf") for pk, at in committed.items()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--submits", type=int, default=8, help="teammate renders timed to the open page")
    parser.add_argument("--explain", action="store_true", help="print the plan of the unchanged poll's query")
    args = parser.parse_args()
    with test_database():
        run(args)


def run(args):
    from django.contrib.auth import get_user_model
    from django.db.models import F

    from projects.models import Membership, Project, Role
    from renders import notices
    from renders.models import Notice, Render

    User = get_user_model()
    alice, bob, dan = people("alice", "bob", "dan")
    project = team_project("Bench", [(alice, Role.OWNER), (bob, Role.EDITOR), (dan, Role.EDITOR)])
    now = timezone.now()
    Render.objects.bulk_create([
        Render(project=project, author=(alice, bob, dan)[i % 3], prompt=f"Take {i}: a red fox", model="sora-2",
               size="720x1280", seconds=4, status=("completed", "in_progress", "queued")[i % 3],
               progress=50 if i % 3 == 1 else 0, created_at=now, updated_at=now) for i in range(args.renders)])
    # a site around them, so the plans are those of a real database: other people, their projects and notices
    others = User.objects.bulk_create([User(username=f"member{i}", email=f"member{i}@example.org", password="!")
                                       for i in range(500)])
    elsewhere_projects = Project.objects.bulk_create([Project(name=f"Other {i}", created_by=others[i])
                                                      for i in range(500)])
    Membership.objects.bulk_create([Membership(project=elsewhere_projects[i], user=others[(i + k) % 500],
                                               role=Role.EDITOR) for i in range(500) for k in range(4)])
    some = list(Render.objects.filter(project=project).values_list("pk", flat=True)[:400])
    Notice.objects.bulk_create([Notice(user=others[(i * 7 + k) % 500], render_id=pk, kind="completed", message="-",
                                       seen_at=None if k == 0 else now)
                                for i, pk in enumerate(some) for k in range(5)])
    # alice has seen notices of her own finished renders (the unseen ones are what the poll asks about)
    for render in Render.objects.filter(author=alice, status="completed")[:20]:
        notices.render_finished(render)
    Notice.objects.update(seen_at=now)
    analyze_tables()

    client = Client()
    client.force_login(alice)
    studio_page = f"/projects/{project.pk}/"
    hx = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": "http://testserver" + studio_page}
    elsewhere = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": "http://testserver/settings/"}
    def page_values():
        """What a studio page loaded now sends: the newest render id and the project's marker (no request)."""
        latest = Render.objects.filter(project=project).order_by("-pk").values_list("pk", flat=True)[0]
        return latest, Project.objects.values_list("revision", flat=True).get(pk=project.pk)

    def unchanged():
        return "/notices/?after={}&revision={}".format(*page_values())

    def teammates_render_arrived():
        url = unchanged()
        teammate_render(project, bob, 0)  # after the page loaded: the poll brings its card
        return url

    def a_card_moved_on():
        # a status move or a progress step of a card already on the page: the marker moved, no new card
        url = unchanged()
        Project.objects.filter(pk=project.pk).update(revision=F("revision") + 1)
        return url

    def a_notice_arrived(url):
        def prepare():
            target = url()
            Notice.objects.filter(pk__in=Notice.objects.filter(user=alice).order_by("-pk").values("pk")[:1]).update(
                seen_at=None)
            return target

        return prepare

    cases = [
        ("studio page, unchanged project", unchanged, hx),
        ("studio page, a teammate's render arrived", teammates_render_arrived, hx),
        ("studio page, a card on it moved on", a_card_moved_on, hx),
        ("studio page, a notice for the user", a_notice_arrived(unchanged), hx),
        ("any other page, nothing new", lambda: "/notices/", elsewhere),
        ("any other page, a notice for the user", a_notice_arrived(lambda: "/notices/"), elsewhere),
    ]
    rows = [(name, *measure(client, prepare, headers, args.repeat)) for name, prepare, headers in cases]
    project.refresh_from_db()
    latest = Render.objects.filter(project=project).order_by("-pk").values_list("pk", flat=True)[0]
    own = [view_queries(alice, "/notices/", {"after": latest, "revision": project.revision}, studio_page),
           view_queries(alice, "/notices/", {}, "/settings/")]

    if args.explain:
        with CaptureQueriesContext(connection) as queries:
            notices.changes(alice, project.pk)
        with connection.cursor() as cursor:
            analyze = "EXPLAIN ANALYZE " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
            cursor.execute(analyze + queries[0]["sql"])
            print("\n-- the unchanged poll's query:\n" + queries[0]["sql"] + "\n" +
                  "\n".join(" ".join(map(str, row)) for row in cursor.fetchall()))

    interval = settings.STUDIO_NOTICE_POLL_SECONDS
    waits = latency(project, alice, bob, args.submits, interval)

    print(f"\nthe every-page poll ({connection.vendor}, {args.renders:,} renders in the project, every {interval} s): "
          f"median (best) of {args.repeat}, queries of the whole request (with the session and the user), status")
    for name, median, best, queries, status in rows:
        print(f"  {name:44} {median:6.2f} ms ({best:5.2f}) {queries:2d} q  {status}")
    print(f"  the view alone on an unchanged project: {own[0]} query on the studio page, {own[1]} elsewhere "
          f"(target: 1)")
    shown = ", ".join(f"{w:.2f}" for w in sorted(waits))
    worst = max(waits)
    verdict = "meets" if worst <= 5 else "MISSES"
    print(f"\na teammate's render on an open studio page, s from its commit ({len(waits)} renders): {shown}")
    print(f"  median {statistics.median(waits):.2f} s, worst {worst:.2f} s: {verdict} the 5 s target")


if __name__ == "__main__":
    main()
