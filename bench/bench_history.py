"""The studio at 10,000 renders: server time of the project page, the in-flight poll and the every-page poll, next to a
project of 20 renders (target: the page at 10,000 costs at most 1.5 times the page at 20).

    SORAWEB_TESTING=1 .venv/bin/python bench/bench_history.py [--renders 10000] [--repeat 40]

It runs in a database of its own (Django's test database for the configured DATABASE_URL: PostgreSQL when set,
SQLite in memory otherwise), created and destroyed here, so it never touches your data. "Server time" is the
whole request inside Django (middleware, session, queries, templates) through the test client, without the
network; each figure is the median of --repeat requests after a warm-up, with the number of queries beside it.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stack import analyze_tables, people, setup_django, team_project, test_database  # noqa: E402

setup_django()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

STATUS_MIX = ["completed"] * 14 + ["failed", "canceled"]  # history: mostly done
IN_FLIGHT = ["in_progress", "queued", "submitting", "downloading", "waiting"]


def fill(project, authors, n, alice, in_flight=25):
    from renders.models import Favourite, Render

    now = timezone.now()
    batch, made = [], 0
    for i in range(n):
        newest = n - i <= in_flight  # the newest renders are the ones still in flight
        status = IN_FLIGHT[i % len(IN_FLIGHT)] if newest else STATUS_MIX[i % len(STATUS_MIX)]
        model = "sora-2-pro" if i % 5 == 0 else "sora-2"
        batch.append(Render(
            project=project, author=authors[i % len(authors)], model=model,
            prompt=f"Take {i}: a {('red fox', 'lighthouse', 'city tram', 'paper boat')[i % 4]} at "
                   f"{('dawn', 'noon', 'dusk', 'night')[(i // 4) % 4]}, {('wide', 'close-up')[i % 2]} shot",
            size="720x1280" if i % 2 else "1280x720", seconds=(4, 8, 12)[i % 3], status=status,
            progress=50 if status == "in_progress" else 100 if status == "completed" else 0,
            cost_estimate_usd="0.40", charged_usd="0.40" if status == "completed" else "0",
            thumbnail=f"renders/{project.pk}/x/thumbnail.webp" if status == "completed" else "",
            created_at=now, updated_at=now))
        if len(batch) == 2000:
            made += len(Render.objects.bulk_create(batch))
            batch = []
    if batch:
        Render.objects.bulk_create(batch)
    ids = list(Render.objects.filter(project=project).values_list("pk", flat=True))
    Favourite.objects.bulk_create([Favourite(user=alice, render_id=pk) for pk in ids[::10]])
    return ids


def timed(client, requests, repeat):
    """Median and best server time (ms) and query count of each (url, headers), the requests interleaved so a
    busy machine slows all of them alike."""
    for url, headers in requests:
        for _ in range(3):
            response = client.get(url, **headers)
            assert response.status_code in (200, 204), (url, response.status_code)  # 204: nothing new to show
    samples = [[] for _ in requests]
    for _ in range(repeat):
        for i, (url, headers) in enumerate(requests):
            started = time.perf_counter()
            client.get(url, **headers)
            samples[i].append((time.perf_counter() - started) * 1000)
    results = []
    for (url, headers), times in zip(requests, samples, strict=True):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, **headers)
        cards = response.content.count(b'class="card card-link render-card"')
        results.append((statistics.median(times), min(times), len(queries), cards))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--explain", action="store_true", help="print the query plans of the history's queries")
    args = parser.parse_args()

    # no setup_test_environment(): its template instrumentation (a copied context per template and partial
    # rendered, for the test client's response.context) would be measured as if it were the page's own cost
    with test_database():
        run(args)


def run(args):
    from projects.models import Role
    from renders.models import Render

    alice, bob, dan, eve = people("alice", "bob", "dan", "eve")
    projects = {}
    for label, n in (("20", 20), (f"{args.renders:,}", args.renders)):
        project = team_project(f"Bench {n}", [(alice, Role.OWNER), (bob, Role.EDITOR), (dan, Role.EDITOR),
                                              (eve, Role.VIEWER)])
        started = time.perf_counter()
        fill(project, [alice, bob, dan], n, alice, in_flight=min(25, n // 2))
        print(f"filled a project with {n:,} renders in {time.perf_counter() - started:.1f} s")
        projects[label] = project
    analyze_tables()

    client = Client()
    client.force_login(alice)
    hx = {"HTTP_HX_REQUEST": "true"}
    rows = []
    cases = [
        ("project page", "/projects/{p}/", {}),
        ("page, filtered: completed by bob", "/projects/{p}/?status=completed&author={bob}", {}),
        ("page, my favourites", "/projects/{p}/?favourites=1", {}),
        ("page, search 'lighthouse'", "/projects/{p}/?q=lighthouse", {}),
        ("page 3 (older)", None, {}),
        ("history partial (htmx filter)", "/projects/{p}/?model=sora-2", {"HTTP_HX_TARGET": "history", **hx}),
        ("in-flight poll (all in-flight cards)", "inflight", hx),
        ("every-page poll on the studio page", "notices", hx),
        ("every-page poll elsewhere", "/notices/", hx),
    ]
    for name, url, headers in cases:
        requests = []
        for project in projects.values():
            ids = list(Render.objects.filter(project=project).order_by("-pk").values_list("pk", flat=True))
            in_flight = list(Render.objects.filter(project=project, status__in=IN_FLIGHT).order_by("-pk")
                             .values_list("pk", flat=True)[:24])
            page_url = f"/projects/{project.pk}/"
            extra = headers
            if url is None:
                target = f"{page_url}?before={ids[47]}" if len(ids) > 48 else page_url
            elif url == "inflight":
                target = f"/projects/{project.pk}/inflight/?" + "&".join(f"ids={i}" for i in in_flight)
                extra = {**hx, "HTTP_HX_CURRENT_URL": "http://testserver" + page_url}
            elif url == "notices":
                target = f"/notices/?after={ids[5]}"
                extra = {**hx, "HTTP_HX_CURRENT_URL": "http://testserver" + page_url}
            else:
                target = url.format(p=project.pk, bob=bob.pk)
            requests.append((target, extra))
        rows.append([name, *timed(client, requests, args.repeat)])

    small, large = projects
    if args.explain:
        explain(projects[large], alice, bob)
    print()
    print(f"server time per request: median (best) of {args.repeat} ms, queries, cards in the answer "
          f"(database: {connection.vendor})")
    print(f"{'':38} {small + ' renders':>28} {large + ' renders':>28}  ratio of medians")
    for name, (m_small, b_small, q_small, c_small), (m_large, b_large, q_large, c_large) in rows:
        print(f"{name:38} {m_small:7.1f} ({b_small:5.1f}) {q_small:2d} q {c_small:2d} c "
              f"{m_large:7.1f} ({b_large:5.1f}) {q_large:2d} q {c_large:2d} c  {m_large / m_small:5.2f}x")
    page_ratio = rows[0][2][0] / rows[0][1][0]
    verdict = "meets" if page_ratio <= 1.5 else "MISSES"
    print(f"\nthe project page at {large} renders costs {page_ratio:.2f}x the page at {small}: {verdict} the 1.5x "
          "target")


def explain(project, alice, bob):
    from renders import history
    from renders.history import Filters

    for label, filters in (("unfiltered", Filters()), ("completed by bob", Filters(status="completed", author=bob.pk)),
                           ("favourites", Filters(favourites=True)), ("in flight", Filters(status="in_flight")),
                           ("search", Filters(q="lighthouse")), ("rare search", Filters(q="take 9876:"))):
        queryset = history.filtered(project, alice, filters).order_by("-pk")[: history.PAGE_SIZE + 1]
        print(f"\n-- plan of the page query, {label}:\n{queryset.explain(analyze=True)}")
    print(f"\n-- plan of the every-page poll's cursor:\n"
          f"{history.Render.objects.visible().filter(project=project).order_by('-pk')[:1].explain(analyze=True)}")


if __name__ == "__main__":
    main()
