"""The studio's promise: the page and both polls cost the same number of queries for 20 renders as for 200,
with at least 20 in flight, several authors, favourites and a filter applied (and no query per card)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from projects.models import Membership, Project, Role
from renders import notices
from renders.models import Notice, Render
from renders.states import Status
from tests.renders.studio.conftest import make_renders, star

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]

IN_FLIGHT_MIX = (Status.IN_PROGRESS, Status.QUEUED, Status.COMPLETED, Status.SUBMITTING, Status.FAILED,
                 Status.DOWNLOADING, Status.COMPLETED, Status.WAITING)
FILTERS = ["", "?model=sora-2", "?status=in_flight", "?favourites=1", "?q=fox", "?author={bob}",
           "?status=in_flight&model=sora-2&q=snow&author={bob}"]


def fill(name, n, alice, bob, dan):
    project = Project.objects.create(name=name, created_by=alice)
    for user, role in ((alice, Role.OWNER), (bob, Role.EDITOR), (dan, Role.EDITOR)):
        Membership.objects.create(project=project, user=user, role=role)
    # with 20 renders all are in flight; with 200, more than 20 are (the mix is 5/8 in flight)
    statuses = (Status.IN_PROGRESS, Status.QUEUED) if n <= 20 else IN_FLIGHT_MIX
    renders = make_renders(project, [alice, bob, dan], n, statuses=statuses)
    star(alice, renders[::3])
    star(bob, renders[::2])
    # teammates' renders with finished notices for alice, so the every-page poll has something to bring
    for render in Render.objects.filter(project=project, author=alice, status=Status.COMPLETED)[:3]:
        notices.render_finished(render)
    assert Render.objects.filter(project=project, status__in=[s for s in Status if s not in (
        Status.COMPLETED, Status.FAILED, Status.CANCELED)]).count() >= 20
    return project


@pytest.fixture
def dan(django_user_model):
    return django_user_model.objects.create_user("dan", "dan@example.org", "password")


@pytest.fixture
def small_and_large(alice, bob, dan):
    return fill("Twenty", 20, alice, bob, dan), fill("Two hundred", 200, alice, bob, dan)


def count(client, url, before=None, **headers):
    client.get(url, **headers)  # warm up (the session row, anything cached per process)
    if before:
        before()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **headers)
    assert response.status_code == 200, response.content[:500]
    return len(queries), response


@pytest.mark.parametrize("query", FILTERS)
def test_it_serves_the_project_page_in_the_same_queries_for_20_and_200_renders(client, alice, bob, query,
                                                                                 small_and_large):
    client.force_login(alice)
    counts = []
    for project in small_and_large:
        n, response = count(client, f"/projects/{project.pk}/" + query.format(bob=bob.pk))
        counts.append(n)
        assert b'id="history-list"' in response.content
    assert counts[0] == counts[1], counts
    assert counts[0] <= 16, counts  # a handful: session, user, membership, members, page, quota, cursor...


def test_the_page_shows_a_full_page_of_cards_at_200_with_stars_and_authors(client, alice, small_and_large):
    client.force_login(alice)
    _, response = count(client, f"/projects/{small_and_large[1].pk}/")
    html = response.content.decode()
    assert html.count('class="card card-link render-card"') == 24
    assert 'aria-pressed="true"' in html and 'aria-pressed="false"' in html
    assert ">dan<" in html and ">bob<" in html
    assert html.count("<progress") >= 10


@pytest.mark.parametrize("query", FILTERS)
def test_it_answers_the_in_flight_poll_in_the_same_queries(client, alice, bob, query, small_and_large, htmx_headers):
    client.force_login(alice)
    counts = []
    for project in small_and_large:
        ids = list(Render.objects.filter(project=project, status__in=[Status.IN_PROGRESS, Status.QUEUED])
                   .order_by("-pk").values_list("pk", flat=True)[:24])
        assert len(ids) >= 20
        url = f"/projects/{project.pk}/inflight/?" + "&".join(f"ids={i}" for i in ids)
        n, response = count(client, url, **htmx_headers(f"/projects/{project.pk}/" + query.format(bob=bob.pk)))
        counts.append(n)
        assert response.content.decode().count('hx-swap-oob="true"') == len(ids)
    assert counts[0] == counts[1], counts


@pytest.mark.parametrize("query", FILTERS)
def test_it_answers_the_slow_poll_in_the_same_queries(client, alice, bob, query, small_and_large, htmx_headers):
    client.force_login(alice)
    counts = []
    for project in small_and_large:
        # the page loaded before the last 10 renders arrived
        after = Render.objects.filter(project=project).order_by("-pk").values_list("pk", flat=True)[10]
        page = f"/projects/{project.pk}/" + query.format(bob=bob.pk)
        # the measured poll brings notices too (the warm-up poll marked them seen)
        n, response = count(client, f"/notices/?after={after}", before=lambda: Notice.objects.update(seen_at=None),
                            **htmx_headers(page))
        counts.append(n)
        html = response.content.decode()
        assert 'hx-swap-oob="beforeend:#notices"' in html
        if query in ("", "?model=sora-2", "?status=in_flight", "?q=fox"):
            assert 'hx-swap-oob="afterbegin:#history-list"' in html  # teammates' new renders
    assert counts[0] == counts[1], counts
