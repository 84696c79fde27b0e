"""Try again: a failed or canceled render is submitted anew (a NEW render, through the submit service)."""

import pytest
from django.core.exceptions import PermissionDenied

from projects.models import Membership, Role
from quotas.models import Reservation, UserAllowance
from renders import actions, lifecycle
from renders.models import Render
from renders.states import Status
from tests.fixtures.world import person
from tests.renders.review.conftest import page_text, url

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]


def post(client, user, render):
    client.force_login(user)
    return client.post(url("render_retry", render))


@pytest.fixture
def failed(submitted):
    render = submitted(prompt="a heron taking off")
    lifecycle.mark_failed(render, "provider_unavailable", "503", source="worker")
    return render


def test_an_editor_tries_a_failed_render_again(client, alice, failed):
    response = post(client, alice, failed)
    new = Render.objects.get(retry_of=failed)
    assert response.status_code == 302 and response["Location"] == url("render_detail", new)
    assert new.author == alice and new.status == Status.SUBMITTING
    assert (new.prompt, new.model, new.size, new.seconds) == (failed.prompt, failed.model, failed.size, failed.seconds)
    assert Reservation.objects.get(render=new).state == Reservation.State.HELD
    failed.refresh_from_db()
    assert failed.status == Status.FAILED  # the failed one keeps its own history
    assert f"Trying again as render #{new.pk}." in page_text(client.get(response["Location"]))


def test_the_failed_render_links_to_its_new_try(client, bob, failed):
    post(client, bob, failed)
    new = Render.objects.get(retry_of=failed)
    text = page_text(client.get(url("render_detail", failed)))
    assert f"Tried again as #{new.pk}" in text
    assert f"Tries again #{failed.pk}" in page_text(client.get(url("render_detail", new)))


def test_a_canceled_render_can_be_tried_again(client, bob, submitted):
    render = submitted()
    actions.cancel(render, bob)
    post(client, bob, render)
    assert Render.objects.filter(retry_of=render).count() == 1


def test_a_retried_remix_stays_a_remix_of_the_same_parent(client, bob, done, submitted):
    child = actions.submit(bob, done.project, prompt="at night", remix_of=done)
    lifecycle.mark_failed(child, "moderation_blocked", "", source="worker")
    post(client, bob, child)
    new = Render.objects.get(retry_of=child)
    assert new.remix_of == done and new.api_key_id == done.api_key_id


def test_a_completed_render_is_not_tried_again(client, bob, done):
    response = post(client, bob, done)
    assert response.status_code == 302 and response["Location"] == url("render_detail", done)
    assert "Only a failed or canceled render can be tried again." in page_text(client.get(response["Location"]))
    assert not Render.objects.filter(retry_of=done).exists()


def test_over_the_quota_it_says_which_limit_and_creates_nothing(client, bob, failed):
    UserAllowance.objects.create(user=bob, monthly_seconds=3)  # the failed one was refunded; 4 s do not fit in 3
    response = post(client, bob, failed)
    assert "Not enough video seconds left this month" in page_text(client.get(response["Location"]))
    assert not Render.objects.filter(retry_of=failed).exists()


def test_an_editor_cannot_retry_someone_elses_render(client, bob, alice, review_render):
    # the rule of cancel and delete: the retrier is charged, so an editor tries again only their own renders
    theirs = review_render(Status.FAILED, author=alice)
    response = post(client, bob, theirs)
    assert response.status_code == 403
    assert "only their own renders" in page_text(response)
    assert not Render.objects.filter(retry_of=theirs).exists()
    assert url("render_retry", theirs) not in client.get(url("render_detail", theirs)).content.decode()  # no button


def test_the_retry_action_follows_the_same_rule(bob, alice, project, review_render, django_user_model):
    dora = person(django_user_model, "dora")
    Membership.objects.create(project=project, user=dora, role=Role.EDITOR)
    theirs = review_render(Status.FAILED, author=dora)
    with pytest.raises(PermissionDenied):
        actions.retry(theirs, bob)
    assert not Render.objects.filter(retry_of=theirs).exists()
    assert actions.retry(theirs, alice).author == alice  # an owner may try anyone's again
    assert actions.retry(theirs, dora).author == dora


def test_a_viewer_gets_403_and_an_outsider_404(client, vera, charlie, failed):
    assert post(client, vera, failed).status_code == 403
    assert post(client, charlie, failed).status_code == 404
    assert not Render.objects.filter(retry_of=failed).exists()
