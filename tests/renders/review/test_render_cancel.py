"""Cancel: only while the create has not been sent; editors their own renders, owners any."""

import pytest

from quotas.models import Reservation
from renders.states import Status
from tests.renders.review.conftest import page_text, url

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]


def post(client, user, render):
    client.force_login(user)
    return client.post(url("render_cancel", render))


def test_an_editor_cancels_their_render_before_it_is_sent(client, bob, submitted):
    render = submitted()
    response = post(client, bob, render)
    assert response.status_code == 302 and response["Location"] == url("render_detail", render)
    render.refresh_from_db()
    assert render.status == Status.CANCELED
    assert Reservation.objects.get(render=render).state == Reservation.State.REFUNDED  # nothing charged
    assert "nothing was charged" in page_text(client.get(response["Location"]))


def test_an_owner_cancels_anyones_render(client, alice, submitted):
    render = submitted()
    post(client, alice, render)
    render.refresh_from_db()
    assert render.status == Status.CANCELED


def test_an_editor_cannot_cancel_someone_elses_render(client, bob, alice, project, review_render):
    theirs = review_render(Status.SUBMITTING, author=alice)
    response = post(client, bob, theirs)
    assert response.status_code == 403
    assert "only their own renders" in page_text(response)
    theirs.refresh_from_db()
    assert theirs.status == Status.SUBMITTING


def test_a_render_the_provider_accepted_runs_to_the_end(client, bob, review_render):
    queued = review_render(Status.QUEUED)
    response = post(client, bob, queued)
    assert "already accepted this render; it is billed and will run to the end" in page_text(
        client.get(response["Location"]))
    queued.refresh_from_db()
    assert queued.status == Status.QUEUED


def test_a_viewer_gets_403_and_an_outsider_404(client, vera, charlie, submitted):
    render = submitted()
    assert post(client, vera, render).status_code == 403
    assert post(client, charlie, render).status_code == 404
    render.refresh_from_db()
    assert render.status == Status.SUBMITTING


def test_get_does_not_cancel(client, bob, submitted):
    render = submitted()
    client.force_login(bob)
    assert client.get(url("render_cancel", render)).status_code == 405
    render.refresh_from_db()
    assert render.status == Status.SUBMITTING
