"""Teammates within seconds: every change to a project's renders (a submit, a status move on any path, more
progress, a delete) moves the project's change marker on after its commit, and the every-page poll answers an
unchanged project with 204 and no body after ONE query of its own (three with the session and the user that
authentication reads), so it can run every 2 s on every page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_htmx.middleware import HtmxDetails

from projects.models import Project
from providers.client import Video
from renders import actions, lifecycle, notices
from renders.models import EventKind, Render
from renders.states import Status
from renders.views import studio
from tests.renders.studio.conftest import make_renders

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]


def revision(project):
    return Project.objects.values_list("revision", flat=True).get(pk=project.pk)


def submit(user, project, prompt="Bob's lighthouse at dusk, drone shot"):
    return actions.submit(user, project, prompt=prompt, model="sora-2", size="720x1280", seconds=4)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """committed(fn, *args): run fn as if in its own transaction, running what waits for the commit."""
    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


# --- the marker follows every change of the project's renders -------------------------------------------------

def test_a_submit_moves_the_marker_on_after_its_commit(bob, project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        submit(bob, project)
        assert revision(project) == 0  # not before the commit: a page reading it would not find the render
    for callback in callbacks:
        callback()
    assert revision(project) == 1


def test_every_status_move_moves_it_whichever_path_makes_it(bob, project, committed):
    render = committed(submit, bob, project)
    start = revision(project)
    # the pipeline's own move (Render.move, as send_create makes it) and lifecycle.transition
    committed(lambda: render.move(Status.SENDING, source="worker"))
    committed(lifecycle.transition, render, Status.QUEUED, source="worker")
    committed(lifecycle.transition, render, Status.IN_PROGRESS, source="webhook")
    assert revision(project) == start + 3


def test_more_progress_moves_it_and_the_same_progress_does_not(bob, project, committed):
    render = committed(submit, bob, project)
    Render.objects.filter(pk=render.pk).update(status=Status.IN_PROGRESS, provider_video_id="video_1")
    render.refresh_from_db()
    start = revision(project)
    news = Video(id="video_1", status="in_progress", progress=40)
    committed(lifecycle.apply_video, render, news, source="poll")
    assert revision(project) == start + 1
    committed(lifecycle.apply_video, render, news, source="poll")  # nothing new to show
    assert revision(project) == start + 1


def test_a_cancel_and_a_delete_move_it_and_a_note_does_not(bob, project, committed):
    render = committed(submit, bob, project)
    start = revision(project)
    committed(render.note, EventKind.REQUEST, "asked the provider", source="worker")
    assert revision(project) == start
    committed(actions.cancel, render, bob)
    committed(actions.delete, render, bob)
    assert revision(project) == start + 2


def test_another_projects_changes_leave_it_alone(bob, project, make_project, committed):
    other = make_project(bob, "Elsewhere")
    committed(submit, bob, other)
    assert (revision(project), revision(other)) == (0, 1)


# --- the every-page poll ------------------------------------------------------------------------------------

def poll(client, page, after=None, revision=None):
    params = {key: value for key, value in (("after", after), ("revision", revision)) if value is not None}
    return client.get("/notices/", params, HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="http://testserver" + page)


def loaded_studio(client, project):
    """The values the studio page's poll element sends: (after, revision)."""
    html = client.get(f"/projects/{project.pk}/").content.decode()
    start = html.index('hx-get="/notices/?after=') + len('hx-get="/notices/?after=')
    after, revision = html[start:html.index('"', start)].split("&amp;revision=")
    return int(after), int(revision)


def test_an_unchanged_project_is_answered_with_no_body(client, alice, bob, project, committed):
    make_renders(project, [bob], 3, statuses=(Status.IN_PROGRESS,))
    client.force_login(alice)
    after, seen = loaded_studio(client, project)
    for _ in range(3):  # the element keeps its values, so every poll asks the same
        response = poll(client, f"/projects/{project.pk}/", after, seen)
        assert (response.status_code, response.content) == (204, b"")


def test_a_teammates_submit_arrives_with_the_next_poll_and_the_in_flight_poll_follows_it(client, alice, bob,
                                                                                         project, committed):
    client.force_login(alice)
    after, seen = loaded_studio(client, project)
    render = committed(submit, bob, project)

    html = poll(client, f"/projects/{project.pk}/", after, seen).content.decode()
    assert 'hx-swap-oob="afterbegin:#history-list"' in html and f'id="render-{render.pk}"' in html
    # the page's in-flight poll is switched on for it: its status changes follow every 2 s
    assert 'id="inflight-poll"' in html and 'data-poll="2"' in html
    now = revision(project)
    assert now > seen and f'hx-get="/notices/?after={render.pk}&amp;revision={now}"' in html
    # the next poll, with the values the answer gave, is empty again
    assert poll(client, f"/projects/{project.pk}/", render.pk, now).status_code == 204
    # a status move of the teammate's render moves the marker: the poll answers (the in-flight poll shows it)
    committed(lifecycle.transition, render, Status.SENDING, source="worker")
    response = poll(client, f"/projects/{project.pk}/", render.pk, now)
    assert response.status_code == 200 and f'revision={revision(project)}"' in response.content.decode()


def test_the_pages_filters_still_decide_which_new_cards_come(client, alice, bob, project, committed):
    client.force_login(alice)
    after, seen = loaded_studio(client, project)
    render = committed(submit, bob, project)
    html = poll(client, f"/projects/{project.pk}/?status=completed", after, seen).content.decode()
    assert f'id="render-{render.pk}"' not in html and f'revision={revision(project)}"' in html


def test_a_notice_for_the_user_comes_although_the_project_did_not_change(client, alice, project):
    client.force_login(alice)
    (mine,) = make_renders(project, [alice], 1, statuses=(Status.COMPLETED,))
    after, seen = loaded_studio(client, project)
    notices.render_finished(mine)
    response = poll(client, f"/projects/{project.pk}/", after, seen)
    html = response.content.decode()
    assert 'hx-swap-oob="beforeend:#notices"' in html and f"?after={after}&amp;revision={seen}" in html
    assert poll(client, f"/projects/{project.pk}/", after, seen).status_code == 204  # shown once


def test_on_any_other_page_it_answers_no_body_without_notices(client, alice, project):
    client.force_login(alice)
    assert poll(client, "/settings/").status_code == 204


# --- what an unchanged poll costs ---------------------------------------------------------------------------

def test_the_whole_unchanged_request_costs_three_queries_session_user_and_the_marker(client, alice, bob, project):
    make_renders(project, [bob], 30, statuses=(Status.IN_PROGRESS, Status.COMPLETED))
    client.force_login(alice)
    after, seen = loaded_studio(client, project)
    poll(client, f"/projects/{project.pk}/", after, seen)  # warm up
    with CaptureQueriesContext(connection) as queries:
        response = poll(client, f"/projects/{project.pk}/", after, seen)
    assert response.status_code == 204
    sql = [q["sql"] for q in queries]
    assert len(sql) == 3, sql
    assert "django_session" in sql[0] and 'FROM "auth_user"' in sql[1]  # what authentication reads
    assert "projects_membership" in sql[2] and "renders_notice" in sql[2]


@pytest.mark.parametrize("page", ["studio", "other"])
def test_the_view_itself_costs_one_query(rf, alice, bob, project, page, django_assert_num_queries):
    make_renders(project, [bob], 30, statuses=(Status.IN_PROGRESS,))
    url = f"/projects/{project.pk}/" if page == "studio" else "/settings/"
    params = {"after": 1, "revision": revision(project)} if page == "studio" else {}
    request = rf.get("/notices/", params, HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="http://testserver" + url)
    request.user = alice
    request.htmx = HtmxDetails(request)
    with django_assert_num_queries(1):
        response = studio.notices_poll(request)
    assert response.status_code == 204
