"""Delete: a confirmation page (no JavaScript needed), then a soft delete; editors their own renders, owners any."""

import pytest

from renders.models import EventKind, Render
from renders.states import Status
from tests.renders.review.conftest import page_text, url

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]


def test_get_asks_for_confirmation_and_deletes_nothing(client, bob, done):
    client.force_login(bob)
    response = client.get(url("render_delete", done))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<form method="post" action="{url("render_delete", done)}"' in html
    assert f"Delete render #{done.pk}?" in page_text(response)
    done.refresh_from_db()
    assert done.deleted_at is None


def test_post_soft_deletes_and_goes_back_to_the_studio(client, bob, done, django_capture_on_commit_callbacks):
    client.force_login(bob)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(url("render_delete", done))
    assert response.status_code == 302 and response["Location"] == f"/projects/{done.project_id}/"
    done.refresh_from_db()
    assert done.deleted_at is not None
    assert Render.objects.filter(pk=done.pk).exists()  # soft: the row and its events stay
    assert done.events.filter(kind=EventKind.DELETED).exists()
    assert len(callbacks) == 2  # the files' removal is enqueued; the project is marked changed
    assert client.get(url("render_detail", done)).status_code == 404
    assert client.get(url("render_asset", done, variant="video")).status_code == 404


def test_a_render_in_flight_is_not_deleted(client, bob, review_render):
    running = review_render(Status.IN_PROGRESS)
    client.force_login(bob)
    assert "cannot be deleted" in page_text(client.get(url("render_delete", running)))
    response = client.post(url("render_delete", running))
    assert "A render in flight cannot be deleted" in page_text(client.get(response["Location"]))
    running.refresh_from_db()
    assert running.deleted_at is None


def test_an_owner_deletes_anyones_render(client, alice, done):
    client.force_login(alice)
    client.post(url("render_delete", done))
    done.refresh_from_db()
    assert done.deleted_at is not None


def test_an_editor_cannot_delete_someone_elses_render(client, bob, alice, review_render):
    theirs = review_render(Status.COMPLETED, author=alice)
    client.force_login(bob)
    assert client.get(url("render_delete", theirs)).status_code == 403
    assert client.post(url("render_delete", theirs)).status_code == 403
    theirs.refresh_from_db()
    assert theirs.deleted_at is None


def test_a_viewer_gets_403_and_an_outsider_404(client, vera, charlie, done):
    for user, status in ((vera, 403), (charlie, 404)):
        client.force_login(user)
        assert client.get(url("render_delete", done)).status_code == status
        assert client.post(url("render_delete", done)).status_code == status
    done.refresh_from_db()
    assert done.deleted_at is None
