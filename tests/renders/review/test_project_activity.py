"""The project's activity feed: submissions, results (and why they failed), comments and new members, merged
newest first and paginated in a constant number of queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from projects.models import Membership, Role
from renders import actions, activity, lifecycle
from renders.models import Comment, RenderEvent
from tests.renders.review.conftest import page_text

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]


def feed_url(project, **query):
    url = reverse("project_activity", kwargs={"project_id": project.pk})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_it_tells_who_submitted_what_completed_or_failed_and_why_who_commented_and_who_joined(
        client, alice, bob, vera, project, submitted, done):
    ok = submitted(prompt="a lighthouse at dawn")
    lifecycle.transition(ok, "sending", source="worker")
    lifecycle.transition(ok, "queued", source="worker")
    lifecycle.transition(ok, "downloading", source="webhook")
    lifecycle.complete_render(ok, "4.0")
    bad = submitted(prompt="something forbidden")
    lifecycle.mark_failed(bad, "moderation_blocked", "Your request was blocked.", source="worker")
    Comment.post(done, vera, "Love the colours")
    client.force_login(vera)
    response = client.get(feed_url(project))
    assert response.status_code == 200
    text = page_text(response)
    assert f"bob submitted render #{ok.pk}: a lighthouse at dawn" in text
    assert f"render #{ok.pk} by bob completed" in text
    why = lifecycle.plain_error("moderation_blocked", "Your request was blocked.")
    assert f"render #{bad.pk} by bob failed: {why}" in text
    assert f"vera commented on render #{done.pk}" in text and "Love the colours" in text
    assert "vera joined as viewer." in text and "alice joined as owner." in text
    # newest first: the comment came last
    assert text.index("vera commented") < text.index(f"render #{bad.pk} by bob failed") < text.index(
        f"render #{ok.pk} by bob completed") < text.index("vera joined")


def test_remixes_and_retries_say_so(client, bob, project, done, submitted):
    child = actions.submit(bob, project, prompt="at night", remix_of=done)
    lifecycle.mark_failed(child, "provider_unavailable", "", source="worker")
    again = actions.retry(child, bob)
    client.force_login(bob)
    text = page_text(client.get(feed_url(project)))
    assert f"bob remixed #{done.pk} into render #{child.pk}" in text
    assert f"bob tried #{child.pk} again as render #{again.pk}" in text


def test_another_projects_activity_stays_out(client, charlie, bob, elsewhere, project, submitted):
    submitted(prompt="our secret")
    client.force_login(charlie)
    assert client.get(feed_url(project)).status_code == 404
    text = page_text(client.get(feed_url(elsewhere)))
    assert "our secret" not in text and "bob" not in text


def make_history(project, bob, vera, review_render, n):
    """n renders with a submitted event, a completion and a comment each, spread over time."""
    start = timezone.now() - timedelta(days=1)
    for i in range(n):
        at = start + timedelta(minutes=i)
        render = review_render("completed", created_at=at)
        RenderEvent.objects.create(render=render, kind="submitted", status_to="submitting", created_at=at,
                                   message="Submitted")
        RenderEvent.objects.create(render=render, kind="status", status_from="downloading", status_to="completed",
                                   created_at=at + timedelta(seconds=20))
        Comment.objects.create(render=render, project=project, author=vera, body=f"note {i}",
                               created_at=at + timedelta(seconds=30))


def test_pages_cover_everything_once_newest_first(project, bob, vera, review_render):
    make_history(project, bob, vera, review_render, 25)  # 75 entries + 3 memberships
    seen, previous = [], None
    for number in (1, 2, 3):
        page = activity.feed_page(project.pk, number)
        for entry in page.object_list:
            key = (entry.kind, entry.obj.pk)
            assert key not in seen
            seen.append(key)
            if previous is not None:
                assert entry.at <= previous
            previous = entry.at
    assert len(seen) == 78
    assert not activity.feed_page(project.pk, 3).has_next()


def count_queries(client, user, project, page=1):
    client.force_login(user)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(feed_url(project, page=page))
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_a_page_costs_the_same_queries_for_a_small_and_a_large_project(client, project, bob, vera, review_render,
                                                                      django_user_model):
    make_history(project, bob, vera, review_render, 3)
    small = count_queries(client, vera, project)
    make_history(project, bob, vera, review_render, 60)
    for i in range(10):
        Membership.objects.create(project=project, user=django_user_model.objects.create_user(f"u{i}"),
                                  role=Role.VIEWER)
    assert count_queries(client, vera, project) == small
    assert count_queries(client, vera, project, page=3) <= small  # a page without members skips that load


def test_a_page_beyond_the_end_shows_the_last_one(client, vera, project):
    client.force_login(vera)
    response = client.get(feed_url(project, page=99))
    assert response.status_code == 200 and "vera joined as viewer." in page_text(response)
