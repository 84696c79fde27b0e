"""Notices: written once when a render completes or fails (whatever moved it), shown by the every-page poll on every
page, emailed to authors who chose it; on a studio page the every-page poll also brings teammates' new renders."""

from decimal import Decimal

import pytest
from django.core import mail

from renders import actions, lifecycle, notices
from renders.models import Notice, NotificationSettings, Render
from renders.states import Status
from tests.renders.studio.conftest import make_renders

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]


@pytest.fixture
def wants_email(alice):
    return NotificationSettings.objects.create(user=alice, email_on_finish=True)


def test_a_completed_render_notifies_its_author_after_the_commit(alice, project, django_capture_on_commit_callbacks):
    (render,) = make_renders(project, [alice], 1, statuses=(Status.DOWNLOADING,))
    with django_capture_on_commit_callbacks(execute=True):
        assert lifecycle.complete_render(render, Decimal("4.0"))
        assert not Notice.objects.exists()  # nothing before the commit
    notice = Notice.objects.get()
    assert (notice.user, notice.render, notice.kind) == (alice, render, Notice.Kind.COMPLETED)
    assert notice.message.startswith("Your render “shot") and notice.message.endswith("completed.")


def test_a_failed_render_says_why(alice, project, django_capture_on_commit_callbacks):
    (render,) = make_renders(project, [alice], 1, statuses=(Status.IN_PROGRESS,))
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.mark_failed(render, "moderation_blocked", "Prompt refused", source="poll")
    notice = Notice.objects.get()
    assert notice.kind == Notice.Kind.FAILED
    assert "failed: The provider's safety system refused this prompt" in notice.message


def test_a_rolled_back_move_notifies_nobody(alice, project, django_capture_on_commit_callbacks):
    (render,) = make_renders(project, [alice], 1, statuses=(Status.IN_PROGRESS,))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        lifecycle.mark_failed(render, "deadline", source="poll")
    assert callbacks and not Notice.objects.exists()


def test_a_cancel_and_other_moves_write_no_notice(alice, project, django_capture_on_commit_callbacks):
    (render,) = make_renders(project, [alice], 1, statuses=(Status.SUBMITTING,))
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.transition(render, Status.SENDING, source="worker")
        lifecycle.transition(render, Status.QUEUED, source="worker")
    (other,) = make_renders(project, [alice], 1, statuses=(Status.SUBMITTING,))
    with django_capture_on_commit_callbacks(execute=True):
        actions.cancel(other, alice)
    assert not Notice.objects.exists()


def test_it_is_written_and_emailed_once(alice, project, wants_email, settings):
    settings.SITE_URL = "https://studio.example.com"
    (render,) = make_renders(project, [alice], 1, statuses=(Status.COMPLETED,))
    notices.render_finished(render)
    notices.render_finished(render)
    assert Notice.objects.count() == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.org"] and message.subject.startswith("Render completed: shot")
    assert f"https://studio.example.com/projects/{project.pk}/renders/{render.pk}/" in message.body
    assert Notice.objects.get().emailed_at is not None


def test_no_email_unless_chosen(alice, project):
    (render,) = make_renders(project, [alice], 1, statuses=(Status.FAILED,), error_message="It broke.")
    notices.render_finished(render)
    assert Notice.objects.get().message.endswith("failed: It broke.")
    assert mail.outbox == []


def test_a_failing_mail_server_does_not_break_the_move(alice, project, wants_email, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr("renders.notices.send_mail", refuse)
    (render,) = make_renders(project, [alice], 1, statuses=(Status.COMPLETED,))
    assert notices.render_finished(render) is not None
    assert Notice.objects.count() == 1


# --- the every-page poll ----------------------------------------------------------------------------------------

def poll(client, after=None, page="", revision=None, **headers):
    params = {"after": after} if after is not None else {}
    if revision is not None:
        params["revision"] = revision
    if page:
        headers["HTTP_HX_CURRENT_URL"] = "http://testserver" + page
    return client.get("/notices/", params, HTTP_HX_REQUEST="true", **headers)


def test_the_poll_brings_unseen_notices_once_on_any_page(client, alice, bob, project):
    mine, theirs = make_renders(project, [alice, bob], 2, statuses=(Status.COMPLETED,))
    notices.render_finished(mine)
    notices.render_finished(theirs)
    client.force_login(alice)
    html = poll(client, page="/settings/").content.decode()
    assert html.lstrip().startswith('<div id="notice-poll"') and 'data-poll="2"' in html
    assert 'hx-swap-oob="beforeend:#notices"' in html and html.count('class="alert alert-success"') == 1
    assert f'href="/projects/{project.pk}/renders/{mine.pk}/"' in html and "data-dismiss" in html
    assert Notice.objects.get(user=alice).seen_at is not None
    assert Notice.objects.get(user=bob).seen_at is None  # bob's is bob's
    # nothing more to show: an empty answer, which htmx leaves alone (the element keeps polling)
    response = poll(client, page="/settings/")
    assert response.status_code == 204 and response.content == b""


def test_on_the_studio_page_it_brings_teammates_new_renders(client, alice, bob, project):
    (seen,) = make_renders(project, [bob], 1)
    new_theirs = make_renders(project, [bob], 2, statuses=(Status.QUEUED,))
    make_renders(project, [alice], 1)  # alice's own arrive with her submit's answer, not here
    client.force_login(alice)
    html = poll(client, after=seen.pk, page=f"/projects/{project.pk}/").content.decode()
    assert 'hx-swap-oob="afterbegin:#history-list"' in html
    inserted = [r.pk for r in new_theirs]
    assert all(f'id="render-{pk}"' in html for pk in inserted)
    assert html.index(f'id="render-{inserted[1]}"') < html.index(f'id="render-{inserted[0]}"')  # newest first
    assert html.count('id="render-') == 2
    # the cursor moves on, and the page's in-flight poll is switched on for the queued ones
    newest = max(inserted)
    project.refresh_from_db()
    assert f'hx-get="/notices/?after={newest}&amp;revision={project.revision}"' in html
    assert 'id="inflight-poll"' in html and 'data-poll="2"' in html and 'hx-swap-oob="true"' in html
    html = poll(client, after=newest, page=f"/projects/{project.pk}/").content.decode()
    assert "render-" not in html
    response = poll(client, after=newest, revision=project.revision, page=f"/projects/{project.pk}/")
    assert response.status_code == 204  # the page has seen this state of the project


def test_it_respects_the_pages_filters_and_pages(client, alice, bob, project):
    (seen,) = make_renders(project, [bob], 1)
    done, failed = make_renders(project, [bob], 2, statuses=(Status.COMPLETED, Status.FAILED))
    client.force_login(alice)
    html = poll(client, after=seen.pk, page=f"/projects/{project.pk}/?status=failed").content.decode()
    assert f'id="render-{failed.pk}"' in html and f'id="render-{done.pk}"' not in html
    assert "inflight-poll" not in html  # nothing in flight arrived
    html = poll(client, after=seen.pk, page=f"/projects/{project.pk}/?before={seen.pk}").content.decode()
    assert "render-" not in html  # an older page gets no new renders at its top


def test_it_shows_nothing_of_a_project_the_user_is_not_in(client, charlie, bob, project):
    (seen,) = make_renders(project, [bob], 1)
    make_renders(project, [bob], 1)
    client.force_login(charlie)
    response = poll(client, after=seen.pk, page=f"/projects/{project.pk}/")
    assert response.status_code == 204 and response.content == b""


def test_anonymous_visitors_are_sent_to_sign_in(client):
    assert client.get("/notices/").status_code == 302


def test_deleted_renders_are_not_announced(alice, project):
    (render,) = make_renders(project, [alice], 1, statuses=(Status.COMPLETED,))
    from django.utils import timezone

    Render.objects.filter(pk=render.pk).update(deleted_at=timezone.now())
    assert notices.render_finished(render) is None and not Notice.objects.exists()
