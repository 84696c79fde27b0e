"""Comments: by any member (viewers included), with author and time; in place with htmx, or a plain POST."""

import pytest

from renders.models import COMMENT_MAX_CHARS, Comment
from tests.renders.review.conftest import page_text, url

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]


def test_a_viewer_comments_and_the_page_shows_author_and_time(client, vera, done):
    client.force_login(vera)
    response = client.post(url("render_comment", done), {"body": "  The light at 0:03 is lovely.  "})
    comment = Comment.objects.get()
    assert (comment.render, comment.project, comment.author) == (done, done.project, vera)
    assert comment.body == "The light at 0:03 is lovely."
    assert response.status_code == 302 and response["Location"] == url("render_detail", done) + f"#comment-{comment.pk}"
    html = client.get(url("render_detail", done)).content.decode()
    assert f'id="comment-{comment.pk}"' in html
    assert f'datetime="{comment.created_at.isoformat()}"' in html
    assert "vera just now The light at 0:03 is lovely." in page_text(html)


def test_with_htmx_the_thread_comes_back_in_place_with_an_empty_form(client, bob, done):
    client.force_login(bob)
    response = client.post(url("render_comment", done), {"body": "Ship it"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert html.strip().startswith('<section class="card" id="comments"')
    assert "bob" in page_text(html) and "Ship it" in page_text(html)
    assert "Ship it</textarea>" not in html


def test_an_empty_comment_is_refused_and_nothing_is_stored(client, bob, done):
    client.force_login(bob)
    response = client.post(url("render_comment", done), {"body": "   "})
    assert response.status_code == 400
    assert "This field is required." in page_text(response)
    assert not Comment.objects.exists()


def test_a_too_long_comment_is_refused_and_the_text_kept(client, bob, done):
    client.force_login(bob)
    body = "word " * (COMMENT_MAX_CHARS // 4)
    response = client.post(url("render_comment", done), {"body": body}, headers={"HX-Request": "true"})
    assert f"at most {COMMENT_MAX_CHARS} characters" in page_text(response)
    assert body.strip() in response.content.decode()  # nothing typed is lost
    assert not Comment.objects.exists()


def test_an_outsider_gets_404(client, charlie, done):
    client.force_login(charlie)
    assert client.post(url("render_comment", done), {"body": "hello"}).status_code == 404
    assert not Comment.objects.exists()


def test_an_archived_project_takes_no_comments(client, vera, done):
    from django.utils import timezone

    done.project.archived_at = timezone.now()
    done.project.save()
    client.force_login(vera)
    assert client.post(url("render_comment", done), {"body": "hello"}).status_code == 403
    assert not Comment.objects.exists()


def test_get_does_not_comment(client, vera, done):
    client.force_login(vera)
    assert client.get(url("render_comment", done)).status_code == 405
