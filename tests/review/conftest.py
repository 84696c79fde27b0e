"""Fixtures of the render page's tests: a project with an owner (alice), an editor (bob) and a viewer (vera);
charlie is an outsider. Renders are made directly in any status (the pipeline's own tests cover how they get
there); `submitted` goes through the real submit service, with its quota reservation."""

import re
from decimal import Decimal
from html import unescape

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from projects.models import Membership, Project, Role
from providers.models import ApiKey
from renders import services
from renders.models import Render
from renders.states import Status


@pytest.fixture(autouse=True)
def _quota_defaults(settings):
    # known allowances whatever the environment says
    settings.QUOTA_DEFAULT_MONTHLY_SECONDS = 300
    settings.QUOTA_DEFAULT_MONTHLY_SPEND_USD = Decimal("50.00")
    settings.QUOTA_DEFAULT_CONCURRENT_RENDERS = 3
    settings.QUOTA_DEFAULT_PROJECT_BUDGET_USD = None


@pytest.fixture
def vera(django_user_model):
    return django_user_model.objects.create_user("vera", "vera@example.org", "password")


@pytest.fixture
def project(alice, bob, vera):
    project = Project.objects.create(name="Trailer", created_by=alice)
    Membership.objects.create(project=project, user=alice, role=Role.OWNER)
    Membership.objects.create(project=project, user=bob, role=Role.EDITOR)
    Membership.objects.create(project=project, user=vera, role=Role.VIEWER)
    return project


@pytest.fixture
def key(db):
    key = ApiKey(name="main", base_url="http://127.0.0.1:9/v1", can_remix_endpoint=True)
    key.secret = "sk-test-review-0001"
    key.save()
    return key


@pytest.fixture
def make_render(project, bob):
    """A render in any status, authored by bob unless told otherwise (no quota reservation)."""

    def make(status=Status.COMPLETED, **fields):
        now = timezone.now()
        values = {"project": project, "author": bob, "prompt": "a red fox in fresh snow", "model": "sora-2",
                  "size": "1280x720", "seconds": 4, "status": status, "created_at": now, "updated_at": now,
                  "cost_estimate_usd": "0.40"}
        if status == Status.COMPLETED:
            values.update(charged_usd="0.40", delivered_seconds="4.000", completed_at=now, progress=100)
        values.update(fields)
        return Render.objects.create(**values)

    return make


@pytest.fixture
def done(make_render, key):
    """A completed render of bob's with its three files, made on a key that can remix."""
    render = make_render(Status.COMPLETED, api_key=key, provider_video_id="video_" + "a" * 48)
    render.video.save("video.mp4", ContentFile(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64), save=False)
    render.thumbnail.save("thumbnail.webp", ContentFile(b"RIFF\x00\x00\x00\x00WEBPVP8 "), save=False)
    render.spritesheet.save("spritesheet.jpg", ContentFile(b"\xff\xd8\xff\xe0 jpeg"), save=False)
    render.save()
    return render


@pytest.fixture
def submitted(project, bob):
    """A render submitted by bob through the real submit service (reserved, not sent: cancelable)."""
    def make(**kwargs):
        values = {"prompt": "a red fox in fresh snow", "model": "sora-2", "size": "1280x720", "seconds": 4}
        values.update(kwargs)
        return services.submit(bob, project, **values)

    return make


@pytest.fixture
def elsewhere(charlie):
    """charlie's own project: charlie is no stranger to soraweb, just not a member of `project`."""
    other = Project.objects.create(name="Elsewhere", created_by=charlie)
    Membership.objects.create(project=other, user=charlie, role=Role.OWNER)
    return other


def url(name, render, **kwargs):
    return reverse(name, kwargs={"project_id": render.project_id, "render_id": render.pk, **kwargs})


def page_text(response_or_html):
    """What a person reads: the HTML without its tags, runs of whitespace folded (for assertions on sentences)."""
    html = response_or_html if isinstance(response_or_html, str) else response_or_html.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
    return re.sub(r" ([:;,.!?])", r"\1", text)  # a tag before punctuation left a space
