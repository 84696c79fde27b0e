import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from PIL import Image

from projects.models import Membership, Project, Role
from quotas.models import Reservation
from quotas.services import QuotaExceeded
from renders import actions, timing
from renders.models import EventKind, Render
from renders.states import Status
from tests.fixtures.world import submit

pytestmark = [pytest.mark.django_db, pytest.mark.key(has_webhooks=True)]


def image_file(size=(720, 1280), fmt="PNG", name="ref.png"):
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, fmt)
    return SimpleUploadedFile(name, buf.getvalue())


def test_it_creates_the_render_reserves_and_enqueues_the_create_on_commit(
        alice, project, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("renders.tasks.create_render.delay", lambda *args: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        render = submit(alice, project, seconds="8")
        assert sent == []  # nothing is sent before the commit
    assert len(callbacks) == 2  # the create's enqueue, and the project's change marker (Project.mark_changed)
    render.refresh_from_db()
    assert sent == [(render.pk, timing.due_token(render.next_attempt_at))]  # fenced by its next_attempt_at
    assert render.status == Status.SUBMITTING
    assert render.seconds == 8 and render.author == alice and render.api_key is None
    assert render.prompt_hash and render.next_attempt_at is not None
    assert str(render.cost_estimate_usd) == "0.8000"
    assert Reservation.objects.get(render=render).state == Reservation.State.HELD
    assert render.events.get().kind == EventKind.SUBMITTED


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"prompt": "   "}, "prompt"),
        ({"prompt": "x" * 32001}, "prompt"),
        ({"model": "sora-3"}, "model"),
        ({"model": "sora-2", "size": "1792x1024"}, "size"),
        ({"seconds": 5}, "seconds"),
        ({"seconds": "four"}, "seconds"),
    ],
)
def test_it_refuses_bad_input_with_a_message_per_field(alice, project, fields, bad):
    with pytest.raises(ValidationError) as excinfo:
        submit(alice, project, **fields)
    assert bad in excinfo.value.message_dict
    assert not Render.objects.exists()
    assert not Reservation.objects.exists()


def test_it_lets_the_pro_model_render_the_large_sizes(alice, project):
    render = submit(alice, project, model="sora-2-pro", size="1792x1024", seconds=12)
    assert render.size == "1792x1024"


def test_a_refused_quota_creates_nothing(alice, project, settings, django_capture_on_commit_callbacks):
    settings.QUOTA_DEFAULT_MONTHLY_SECONDS = 4
    submit(alice, project)
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(QuotaExceeded):
        submit(alice, project, prompt="a second fox")
    assert Render.objects.count() == 1
    assert callbacks == []


def test_viewers_cannot_submit_and_outsiders_get_404(project, charlie, django_user_model):
    viewer = django_user_model.objects.create_user("vera", "vera@example.org", "password")
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    with pytest.raises(PermissionDenied):
        submit(viewer, project)
    with pytest.raises(Http404):
        submit(charlie, project)
    assert not Render.objects.exists()


def test_it_stores_a_reference_image_of_the_right_size(alice, project):
    render = submit(alice, project, reference_image=image_file())
    render.refresh_from_db()
    assert render.reference_image.name.endswith(".png")
    with render.reference_image.open("rb") as f:
        assert Image.open(f).size == (720, 1280)


@pytest.mark.parametrize(
    "upload",
    [
        lambda: image_file(size=(1280, 720)),
        lambda: SimpleUploadedFile("fake.png", b"<html>not an image</html>"),
        lambda: image_file(fmt="GIF", name="anim.png"),
    ],
)
def test_it_refuses_a_wrong_reference_image_and_stores_nothing(alice, project, upload, settings):
    with pytest.raises(ValidationError) as excinfo:
        submit(alice, project, reference_image=upload())
    assert "reference_image" in excinfo.value.message_dict
    assert not Render.objects.exists()
    assert not (settings.MEDIA_ROOT / "renders").exists()


def test_a_remix_takes_its_parents_settings_and_key(alice, project, key, make_render):
    parent = make_render(Status.COMPLETED, api_key=key, provider_video_id="video_parent", model="sora-2-pro",
                         size="1792x1024", seconds=12)
    render = actions.submit(alice, project, prompt="now at night", remix_of=parent)
    assert render.remix_of == parent
    assert render.api_key == key
    assert (render.model, render.size, render.seconds) == ("sora-2-pro", "1792x1024", 12)
    assert list(parent.remixes.all()) == [render]


@pytest.mark.parametrize("status", [Status.QUEUED, Status.FAILED])
def test_it_remixes_only_completed_renders(alice, project, key, make_render, status):
    parent = make_render(status, api_key=key, provider_video_id="video_parent")
    with pytest.raises(ValidationError, match="Only a completed render"):
        actions.submit(alice, project, prompt="again", remix_of=parent)


def test_it_remixes_only_within_the_project(alice, project, key, make_render):
    other = Project.objects.create(name="Other")
    Membership.objects.create(project=other, user=alice, role=Role.OWNER)
    parent = make_render(Status.COMPLETED, api_key=key, provider_video_id="video_parent")
    with pytest.raises(ValidationError, match="this project"):
        actions.submit(alice, other, prompt="again", remix_of=parent)


def test_it_refuses_a_remix_on_a_key_without_remix(alice, project, key, make_render):
    key.can_remix_endpoint = key.can_remix_by_create = False
    key.save()
    parent = make_render(Status.COMPLETED, api_key=key, provider_video_id="video_parent")
    with pytest.raises(ValidationError, match="does not support remixes"):
        actions.submit(alice, project, prompt="again", remix_of=parent)


def test_retry_submits_a_new_render_with_the_same_settings(alice, project, make_render):
    first = submit(alice, project, reference_image=image_file())
    Render.objects.filter(pk=first.pk).update(status=Status.FAILED)
    first.refresh_from_db()
    again = actions.retry(first, alice)
    assert again.pk != first.pk and again.retry_of == first
    assert (again.prompt, again.model, again.size, again.seconds) == (first.prompt, "sora-2", "720x1280", 4)
    assert again.reference_image.name != first.reference_image.name  # its own copy: deleting one keeps the other
    assert again.status == Status.SUBMITTING
    assert Reservation.objects.filter(render=again).exists()


def test_retry_refuses_a_render_in_flight(alice, make_render):
    with pytest.raises(actions.RenderError):
        actions.retry(make_render(Status.QUEUED), alice)
