import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile

from quotas.models import Reservation
from renders import pipeline, services
from renders.models import EventKind, Render
from renders.states import Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def submitted(alice, project):
    return services.submit(alice, project, prompt="a red fox in snow", model="sora-2", size="720x1280", seconds=4)


@pytest.mark.parametrize("status", [Status.SUBMITTING, Status.WAITING])
def test_it_cancels_before_the_create_is_sent_and_refunds(submitted, alice, status):
    Render.objects.filter(pk=submitted.pk).update(status=status)
    submitted.refresh_from_db()
    services.cancel(submitted, alice)
    submitted.refresh_from_db()
    assert submitted.status == Status.CANCELED
    assert submitted.next_attempt_at is None
    assert Reservation.objects.get(render=submitted).state == Reservation.State.REFUNDED
    event = submitted.events.filter(kind=EventKind.STATUS).get()
    assert (event.status_from, event.status_to, event.source) == (status, Status.CANCELED, "user")


@pytest.mark.parametrize("status", [Status.SENDING, Status.QUEUED, Status.IN_PROGRESS, Status.DOWNLOADING])
def test_it_refuses_to_cancel_once_the_create_is_sent(submitted, alice, status):
    Render.objects.filter(pk=submitted.pk).update(status=status)
    with pytest.raises(services.RenderError, match="run to the end|accepted"):
        services.cancel(submitted, alice)
    submitted.refresh_from_db()
    assert submitted.status == status
    assert Reservation.objects.get(render=submitted).state == Reservation.State.HELD


def test_a_cancel_that_loses_the_race_to_the_worker_changes_nothing(submitted, alice):
    # the worker claimed and sent it between the page load and the click
    Render.objects.filter(pk=submitted.pk).update(status=Status.SENDING)
    stale = Render.objects.get(pk=submitted.pk)
    stale.status = Status.SUBMITTING  # what the page saw
    with pytest.raises(services.RenderError):
        services.cancel(stale, alice)
    assert Render.objects.get(pk=submitted.pk).status == Status.SENDING


def test_an_editor_cannot_cancel_someone_elses_render_but_the_owner_can(alice, bob, project):
    render = services.submit(bob, project, prompt="bob's fox", model="sora-2", size="720x1280", seconds=4)
    services.cancel(render, alice)  # alice owns the project
    mine = services.submit(alice, project, prompt="alice's fox", model="sora-2", size="720x1280", seconds=4)
    with pytest.raises(PermissionDenied):
        services.cancel(mine, bob)
    assert Render.objects.get(pk=mine.pk).status == Status.SUBMITTING


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.FAILED, Status.CANCELED])
def test_it_soft_deletes_a_finished_render_and_enqueues_file_removal(
        make_render, alice, status, django_capture_on_commit_callbacks, monkeypatch):
    render = make_render(status)
    child = make_render(Status.COMPLETED, remix_of=render)
    sent = []
    monkeypatch.setattr("renders.tasks.remove_render_files.delay", lambda *a: sent.append(a))
    with django_capture_on_commit_callbacks(execute=True):
        services.delete(render, alice)
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
    with pytest.raises(services.RenderError, match="in flight"):
        services.delete(render, alice)
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
    services.delete(render, alice)
    pipeline.remove_files(render.pk)
    render.refresh_from_db()
    assert not render.video and not render.thumbnail
    import os

    assert not os.path.exists(path)
