import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile

from quotas.models import Reservation
from renders import actions, pipeline
from renders.models import EventKind, Render
from renders.states import Status

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("status", [Status.SUBMITTING, Status.WAITING])
def test_it_cancels_before_the_create_is_sent_and_refunds(submitted_render, alice, status):
    Render.objects.filter(pk=submitted_render.pk).update(status=status)
    submitted_render.refresh_from_db()
    actions.cancel(submitted_render, alice)
    submitted_render.refresh_from_db()
    assert submitted_render.status == Status.CANCELED
    assert submitted_render.next_attempt_at is None
    assert Reservation.objects.get(render=submitted_render).state == Reservation.State.REFUNDED
    event = submitted_render.events.filter(kind=EventKind.STATUS).get()
    assert (event.status_from, event.status_to, event.source) == (status, Status.CANCELED, "user")


@pytest.mark.parametrize("status", [Status.SENDING, Status.QUEUED, Status.IN_PROGRESS, Status.DOWNLOADING])
def test_it_refuses_to_cancel_once_the_create_is_sent(submitted_render, alice, status):
    Render.objects.filter(pk=submitted_render.pk).update(status=status)
    with pytest.raises(actions.RenderError, match="run to the end|accepted"):
        actions.cancel(submitted_render, alice)
    submitted_render.refresh_from_db()
    assert submitted_render.status == status
    assert Reservation.objects.get(render=submitted_render).state == Reservation.State.HELD


def test_a_cancel_that_loses_the_race_to_the_worker_changes_nothing(submitted_render, alice):
    # the worker claimed and sent it between the page load and the click
    Render.objects.filter(pk=submitted_render.pk).update(status=Status.SENDING)
    stale = Render.objects.get(pk=submitted_render.pk)
    stale.status = Status.SUBMITTING  # what the page saw
    with pytest.raises(actions.RenderError):
        actions.cancel(stale, alice)
    assert Render.objects.get(pk=submitted_render.pk).status == Status.SENDING


def test_an_editor_cannot_cancel_someone_elses_render_but_the_owner_can(alice, bob, project):
    render = actions.submit(bob, project, prompt="bob's fox", model="sora-2", size="720x1280", seconds=4)
    actions.cancel(render, alice)  # alice owns the project
    mine = actions.submit(alice, project, prompt="alice's fox", model="sora-2", size="720x1280", seconds=4)
    with pytest.raises(PermissionDenied):
        actions.cancel(mine, bob)
    assert Render.objects.get(pk=mine.pk).status == Status.SUBMITTING


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.FAILED, Status.CANCELED])
def test_it_soft_deletes_a_finished_render_and_enqueues_file_removal(
        make_render, alice, status, django_capture_on_commit_callbacks, monkeypatch):
    render = make_render(status)
    child = make_render(Status.COMPLETED, remix_of=render)
    sent = []
    monkeypatch.setattr("renders.tasks.remove_render_files.delay", lambda *a: sent.append(a))
    with django_capture_on_commit_callbacks(execute=True):
        actions.delete(render, alice)
    render.refresh_from_db()
    assert render.deleted_at is not None
    assert sent == [(render.pk,)]
    assert render.events.filter(kind=EventKind.DELETED).exists()
    assert list(Render.objects.visible()) == [child]
    child.refresh_from_db()
    assert child.remix_of_id == render.pk  # the lineage stays


@pytest.mark.parametrize("status", [Status.SUBMITTING, Status.QUEUED, Status.DOWNLOADING])
def test_it_refuses_to_delete_a_render_in_flight(make_render, alice, status):
    render = make_render(status)
    with pytest.raises(actions.RenderError, match="in flight"):
        actions.delete(render, alice)
    render.refresh_from_db()
    assert render.deleted_at is None


def test_file_removal_deletes_the_stored_files_of_a_deleted_render(make_render, alice):
    render = make_render(Status.COMPLETED)
    render.video.save("video.mp4", ContentFile(b"mp4"), save=True)
    render.thumbnail.save("thumbnail.webp", ContentFile(b"webp"), save=True)
    path = render.video.path
    pipeline.remove_files(render.pk)  # not deleted: nothing happens
    render.refresh_from_db()
    assert render.video
    actions.delete(render, alice)
    pipeline.remove_files(render.pk)
    render.refresh_from_db()
    assert not render.video and not render.thumbnail
    import os

    assert not os.path.exists(path)
