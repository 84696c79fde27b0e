"""The render page and the activity feed at scale: server time and queries of

- the activity feed (page 1 and a deep page) of a project with 10,000 renders (each with its submitted and
  completed events, a comment on every fifth), next to a project with 20;
- the render page of a render in the middle of a long remix chain (30 ancestors, 100 descendants), next to a
  render with no family.

    SORAWEB_TESTING=1 .venv/bin/python bench/bench_review.py [--renders 10000] [--repeat 30]

Like bench_history.py it runs in a test database of its own (PostgreSQL when DATABASE_URL is set, SQLite in
memory otherwise), created and destroyed here. Each figure is the median (and best) of --repeat requests
through Django's test client after a warm-up, with the number of queries beside it. It prints; it asserts
nothing about time.
"""

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stack import analyze_tables, people, setup_django, team_project, test_database  # noqa: E402

setup_django()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402


def fill(project, authors, viewer, n):
    """n completed renders with their submitted and completed events; a comment on every fifth."""
    from renders.models import Comment, Render, RenderEvent

    start = timezone.now() - timedelta(days=30)
    for offset in range(0, n, 2000):
        batch = [Render(project=project, author=authors[i % len(authors)], prompt=f"Take {i}: a lighthouse at dawn",
                        model="sora-2", size="1280x720", seconds=4, status="completed", progress=100,
                        cost_estimate_usd="0.40", charged_usd="0.40", created_at=start + timedelta(minutes=i),
                        updated_at=start + timedelta(minutes=i))
                 for i in range(offset, min(n, offset + 2000))]
        renders = Render.objects.bulk_create(batch)
        events, comments = [], []
        for render in renders:
            at = render.created_at
            events.append(RenderEvent(render=render, kind="submitted", status_to="submitting", created_at=at,
                                      message=f"Submitted by {render.author.username}: sora-2, 1280x720, 4 s."))
            events.append(RenderEvent(render=render, kind="status", status_from="in_progress", status_to="queued",
                                      created_at=at + timedelta(seconds=10), message="Queued at the provider."))
            events.append(RenderEvent(render=render, kind="status", status_from="downloading", status_to="completed",
                                      created_at=at + timedelta(seconds=40), message="Completed: 4.00 s stored."))
            if render.pk % 5 == 0:
                comments.append(Comment(render=render, project=project, author=viewer, body="Nice.",
                                        created_at=at + timedelta(seconds=50)))
        RenderEvent.objects.bulk_create(events)
        Comment.objects.bulk_create(comments)


def family(project, author, ancestors, descendants):
    """A chain of `ancestors` remixes, then the render measured, then `descendants` below it (a few branches)."""
    from renders.models import Render

    def make(parent, i):
        return Render.objects.create(project=project, author=author, prompt=f"Remix {i}", model="sora-2",
                                     size="1280x720", seconds=4, status="completed", charged_usd="0.40",
                                     remix_of=parent)
    parent = None
    for i in range(ancestors):
        parent = make(parent, i)
    middle = make(parent, "middle")
    tips = [middle]
    for i in range(descendants):
        tips.append(make(tips[i % 4 if len(tips) > 4 else -1], f"d{i}"))
    return middle


def timed(client, urls, repeat):
    for url in urls:
        for _ in range(3):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
    samples = [[] for _ in urls]
    for _ in range(repeat):
        for i, url in enumerate(urls):
            started = time.perf_counter()
            client.get(url)
            samples[i].append((time.perf_counter() - started) * 1000)
    results = []
    for url, times in zip(urls, samples, strict=True):
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        results.append((statistics.median(times), min(times), len(queries)))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    setup_test_environment()
    with test_database():
        run(args)


def run(args):
    from projects.models import Role
    from renders.models import Render

    alice, bob, eve = people("alice", "bob", "eve")
    projects = {}
    for n in (20, args.renders):
        project = team_project(f"Bench {n}", [(alice, Role.OWNER), (bob, Role.EDITOR), (eve, Role.VIEWER)])
        started = time.perf_counter()
        fill(project, [alice, bob], eve, n)
        print(f"filled a project with {n:,} renders ({n * 3:,} events) in {time.perf_counter() - started:.1f} s")
        projects[n] = project
    large = projects[args.renders]
    lone = Render.objects.filter(project=large).order_by("pk").first()
    middle = family(large, bob, ancestors=30, descendants=100)
    analyze_tables()

    client = Client()
    client.force_login(eve)
    feed = "/projects/{}/activity/"
    cases = [
        ("activity, page 1", feed.format(projects[20].pk), feed.format(large.pk)),
        ("activity, a deep page", feed.format(projects[20].pk) + "?page=2",
         feed.format(large.pk) + f"?page={max(1, args.renders // 60)}"),
        ("render page (no family / 30 up, 100 down)", f"/projects/{large.pk}/renders/{lone.pk}/",
         f"/projects/{large.pk}/renders/{middle.pk}/"),
    ]
    print(f"\nserver time per request: median (best) of {args.repeat}, and queries (database: {connection.vendor})")
    print(f"{'':44} {'small':>24} {'large':>24}  ratio of medians")
    for name, small_url, large_url in cases:
        (m_s, b_s, q_s), (m_l, b_l, q_l) = timed(client, [small_url, large_url], args.repeat)
        print(f"{name:44} {m_s:7.1f} ({b_s:5.1f}) ms {q_s:2d} q {m_l:7.1f} ({b_l:5.1f}) ms {q_l:2d} q  "
              f"{m_l / m_s:5.2f}x")

    # the feed's database work alone (count, page, loads), without the request and the template around it
    from renders import activity

    print(f"\nactivity.feed_page alone, median of {args.repeat}:")
    for label, number in (("page 1", 1), ("a deep page", max(1, args.renders // 60))):
        row = []
        for project in (projects[20], large):
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                page = activity.feed_page(project.pk, number)
                times.append((time.perf_counter() - started) * 1000)
            row.append(f"{statistics.median(times):7.1f} ms ({len(page.object_list)} entries)")
        print(f"  {label:14} small {row[0]}   large {row[1]}")


if __name__ == "__main__":
    main()
