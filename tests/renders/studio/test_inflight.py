"""GET /projects/<id>/inflight/?ids=...: the page's one in-flight poll refreshes every card it names, out of
band, and stops polling once none of them is in flight."""

import pytest

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
