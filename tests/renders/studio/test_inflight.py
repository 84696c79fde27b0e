"""GET /projects/<id>/inflight/?ids=...: the page's one in-flight poll refreshes every card it names, out of
band, and stops polling once none of them is in flight."""

import pytest

from projects.models import Project
from renders import actions
from renders.models import Render
from renders.states import Status
from tests.renders.studio.conftest import make_renders, star

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]


def card(html, pk):
    """The markup of one card in an answer: from its id to the next card (or the end)."""
    return html.split(f'id="render-{pk}"')[1].split('id="render-')[0]


def poll(client, project, ids):
    return client.get(f"/projects/{project.pk}/inflight/", {"ids": ids}, HTTP_HX_REQUEST="true")


def test_it_refreshes_every_named_card_and_keeps_polling_while_one_is_in_flight(client, alice, bob, project):
    a, b, c = make_renders(project, [alice, bob], 3, statuses=(Status.IN_PROGRESS,))
    star(alice, [b])
    Render.objects.filter(pk=a.pk).update(progress=70)
    Render.objects.filter(pk=c.pk).update(status=Status.COMPLETED, progress=100, charged_usd="0.40")
    client.force_login(alice)
    html = poll(client, project, [a.pk, b.pk, c.pk]).content.decode()
    assert html.lstrip().startswith('<div id="inflight-poll"') and 'data-poll="2"' in html
    assert html.count('hx-swap-oob="true"') == 3
    card_a = card(html, a.pk)
    assert 'value="70"' in card_a and 'class="inflight-id"' in card_a
    card_c = card(html, c.pk)
    assert "<progress" not in card_c and "Completed" in card_c and "inflight-id" not in card_c
    card_b = card(html, b.pk)
    assert 'aria-pressed="true"' in card_b  # the star stays the user's own


def test_the_last_answer_has_no_data_poll_so_polling_stops(client, alice, project):
    renders = make_renders(project, [alice], 2, statuses=(Status.COMPLETED, Status.FAILED))
    client.force_login(alice)
    html = poll(client, project, [r.pk for r in renders]).content.decode()
    assert 'id="inflight-poll"' in html and "data-poll" not in html
    assert html.count('hx-swap-oob="true"') == 2  # the final cards still come, once


def test_it_never_shows_renders_of_another_project(client, alice, charlie, project, other_project):
    (theirs,) = make_renders(other_project, [charlie], 1, statuses=(Status.IN_PROGRESS,))
    client.force_login(alice)
    html = poll(client, project, [theirs.pk, "x", "-1"]).content.decode()
    assert f"render-{theirs.pk}" not in html and "data-poll" not in html
    client.force_login(charlie)
    assert poll(client, project, [theirs.pk]).status_code == 404


def test_a_card_that_finished_brings_the_estimate_and_asks_for_the_notices(client, alice, project, quota_defaults):
    done, running = (actions.submit(alice, project, prompt=p, model="sora-2", size="720x1280", seconds=4)
                     for p in ("A red fox in snow", "A lighthouse at night"))
    Render.objects.filter(pk=done.pk).update(status=Status.COMPLETED, progress=100)
    client.force_login(alice)
    options = {"model": "sora-2", "size": "720x1280", "seconds": "8"}
    response = client.get(f"/projects/{project.pk}/inflight/", {"ids": [done.pk, running.pk], **options},
                          HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response["HX-Trigger"] == "renders-finished"
    estimate = html.split('<div id="estimate"')[1]
    assert estimate.startswith(' class="estimate" aria-live="polite" hx-swap-oob="true">')
    assert "$0.80" in estimate and "Renders in flight:" in estimate  # for the options the form shows now

    # nothing finished: no estimate, no trigger
    response = client.get(f"/projects/{project.pk}/inflight/", {"ids": [running.pk], **options},
                          HTTP_HX_REQUEST="true")
    assert "HX-Trigger" not in response and 'id="estimate"' not in response.content.decode()


def test_a_viewer_gets_no_estimate_and_no_use_this_prompt(client, alice, vera, project):
    render, = make_renders(project, [alice], 1, statuses=(Status.COMPLETED,))
    client.force_login(vera)
    html = poll(client, project, [render.pk]).content.decode()
    assert 'id="estimate"' not in html and "Use this prompt" not in html


def shown(*renders):
    """The page's `ids` for cards as they show now: `<id>:<status>:<progress>`."""
    return [f"{r.pk}:{r.status}:{r.progress}" for r in renders]


def test_an_unchanged_project_answers_204_after_one_query(client, alice, project, django_assert_num_queries):
    a, b = make_renders(project, [alice], 2, statuses=(Status.IN_PROGRESS, Status.QUEUED))
    project.refresh_from_db()
    client.force_login(alice)
    url = f"/projects/{project.pk}/inflight/"
    with django_assert_num_queries(3):  # the session, the user, and the poll's one query (states and marker)
        response = client.get(url, {"ids": shown(a, b), "revision": project.revision}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response.content == b""


def test_a_changed_project_sends_only_the_cards_that_changed_and_the_marker_moved_on(client, alice, project):
    a, b, c = make_renders(project, [alice], 3, statuses=(Status.IN_PROGRESS,))
    project.refresh_from_db()
    before = project.revision
    page = shown(a, b, c)
    Render.objects.filter(pk=a.pk).update(progress=55)
    Render.objects.filter(pk=c.pk).update(status=Status.DOWNLOADING, progress=100)
    # the marker moves on commit (Project.mark_changed); here the test moves it as that commit would
    Project.objects.filter(pk=project.pk).update(revision=before + 1)
    client.force_login(alice)
    response = client.get(f"/projects/{project.pk}/inflight/", {"ids": page, "revision": before},
                          HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="render-{a.pk}"' in html and f'id="render-{c.pk}"' in html and f'id="render-{b.pk}"' not in html
    assert f'revision={before + 1}"' in html and 'data-poll="2"' in html
    assert f'value="{a.pk}:in_progress:55"' in html  # what the card shows now, for the next poll to compare

    # asked again with what the page now shows and the new marker: nothing to send
    page = shown(*Render.objects.filter(pk__in=[a.pk, b.pk, c.pk]).order_by("pk"))
    response = client.get(f"/projects/{project.pk}/inflight/", {"ids": page, "revision": before + 1},
                          HTTP_HX_REQUEST="true")
    assert response.status_code == 204


def test_an_outsider_with_a_marker_still_gets_404(client, alice, charlie, project):
    a, = make_renders(project, [alice], 1, statuses=(Status.IN_PROGRESS,))
    project.refresh_from_db()
    client.force_login(charlie)
    response = client.get(f"/projects/{project.pk}/inflight/", {"ids": shown(a), "revision": project.revision},
                          HTTP_HX_REQUEST="true")
    assert response.status_code == 404
