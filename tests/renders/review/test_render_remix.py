"""Remix: a prompt on the render page that creates a child render through the submit service."""

import pytest
from django.urls import reverse

from quotas.models import Reservation, UserAllowance
from renders.models import EventKind, Render
from renders.states import Status
from tests.renders.review.conftest import page_text, url

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]


def post(client, user, render, prompt="the same fox, now at night"):
    client.force_login(user)
    return client.post(url("render_remix", render), {"prompt": prompt})


def test_an_editor_remixes_a_completed_render(client, alice, done, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(client, alice, done)
    assert response.status_code == 302
    assert response["Location"] == url("render_detail", done) + "#lineage"
    child = Render.objects.get(remix_of=done)
    assert child.author == alice and child.prompt == "the same fox, now at night"
    # the remix keeps its parent's model, size and length, and is pinned to the parent's key
    assert (child.model, child.size, child.seconds) == (done.model, done.size, done.seconds)
    assert child.api_key_id == done.api_key_id
    assert child.status == Status.SUBMITTING
    assert Reservation.objects.get(render=child).state == Reservation.State.HELD  # charged like any render
    assert child.events.get(kind=EventKind.SUBMITTED).message.startswith("Remix submitted by alice")
    assert len(callbacks) == 2  # the create is enqueued once the transaction commits; the project marked changed


def test_the_new_remix_shows_in_the_parents_lineage(client, alice, done):
    post(client, alice, done)
    child = Render.objects.get(remix_of=done)
    response = client.get(url("render_detail", done))
    assert f"Remix #{child.pk} submitted" in page_text(response)
    assert f'href="{url("render_detail", child)}">#{child.pk}</a>' in response.content.decode()


def test_an_empty_prompt_is_refused_and_nothing_is_created(client, bob, done):
    response = post(client, bob, done, prompt="   ")
    assert response.status_code == 400
    assert "This field is required." in page_text(response) or "Describe the video you want." in page_text(response)
    assert not Render.objects.filter(remix_of=done).exists()


def test_a_key_without_remix_support_is_refused_with_the_reason(client, bob, done, key):
    key.can_remix_endpoint = key.can_remix_by_create = False
    key.save()
    response = post(client, bob, done)
    assert response.status_code == 400
    assert "does not support remixes" in page_text(response)
    assert not Render.objects.filter(remix_of=done).exists()


def test_a_remix_by_create_key_is_accepted(client, bob, done, key):
    key.can_remix_endpoint, key.can_remix_by_create = False, True
    key.save()
    assert post(client, bob, done).status_code == 302
    assert Render.objects.filter(remix_of=done).count() == 1


def test_an_unfinished_render_cannot_be_remixed(client, bob, review_render, key):
    running = review_render(Status.IN_PROGRESS, api_key=key, provider_video_id="video_" + "b" * 48)
    response = post(client, bob, running)
    assert response.status_code == 400
    assert "Only a completed render can be remixed." in page_text(response)
    assert not Render.objects.filter(remix_of=running).exists()


def test_over_the_quota_the_prompt_is_kept_and_nothing_is_created(client, bob, done):
    UserAllowance.objects.create(user=bob, monthly_seconds=2)
    response = post(client, bob, done, prompt="a long prompt worth keeping")
    assert response.status_code == 400
    assert "Not enough video seconds left this month" in page_text(response)
    assert "a long prompt worth keeping</textarea>" in response.content.decode()
    assert not Render.objects.filter(remix_of=done).exists()


def test_a_viewer_gets_403_and_an_outsider_404(client, vera, charlie, done):
    assert post(client, vera, done).status_code == 403
    assert post(client, charlie, done).status_code == 404
    assert not Render.objects.filter(remix_of=done).exists()


def test_a_render_of_another_project_is_not_found(client, charlie, elsewhere, done):
    client.force_login(charlie)
    response = client.post(reverse("render_remix", kwargs={"project_id": elsewhere.pk, "render_id": done.pk}),
                           {"prompt": "mine now"})
    assert response.status_code == 404
    assert not Render.objects.filter(remix_of=done).exists()


def test_get_does_not_remix(client, bob, done):
    client.force_login(bob)
    assert client.get(url("render_remix", done)).status_code == 405
