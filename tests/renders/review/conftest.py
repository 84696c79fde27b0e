"""Fixtures of the render page's tests: a project with an owner (alice), an editor (bob) and a viewer (vera);
charlie is an outsider. Renders are made directly in any status (the pipeline's own tests cover how they get
there); `submitted` goes through the real submit service, with its quota reservation."""

import re
from html import unescape

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from renders.states import Status
from tests.fixtures.world import submit


@pytest.fixture(autouse=True)
def _quotas(quota_defaults):
    """The known allowances of tests/fixtures/world.py."""


@pytest.fixture
def review_render(make_render, bob):
    """make_render's render, but bob's, 1280x720, completed (and charged) unless told otherwise."""

    def make(status=Status.COMPLETED, **fields):
        values = {"author": bob, "prompt": "a red fox in fresh snow", "size": "1280x720", "cost_estimate_usd": "0.40"}
        if status == Status.COMPLETED:
            values.update(charged_usd="0.40", delivered_seconds="4.000", completed_at=timezone.now(), progress=100)
        values.update(fields)
        return make_render(status, **values)

    return make


@pytest.fixture
def done(review_render, key):
    """A completed render of bob's with its three files, made on a key that can remix."""
    render = review_render(Status.COMPLETED, api_key=key, provider_video_id="video_" + "a" * 48)
    render.video.save("video.mp4", ContentFile(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64), save=False)
    render.thumbnail.save("thumbnail.webp", ContentFile(b"RIFF\x00\x00\x00\x00WEBPVP8 "), save=False)
    render.spritesheet.save("spritesheet.jpg", ContentFile(b"\xff\xd8\xff\xe0 jpeg"), save=False)
    render.save()
    return render


@pytest.fixture
def submitted(project, bob):
    """A render submitted by bob through the real submit service (reserved, not sent: cancelable)."""
    def make(**kwargs):
        values = {"prompt": "a red fox in fresh snow", "size": "1280x720"}
        values.update(kwargs)
        return submit(bob, project, **values)

    return make


@pytest.fixture
def elsewhere(make_project, charlie):
    """charlie's own project: charlie is no stranger to soraweb, just not a member of `project`."""
    return make_project(charlie, "Elsewhere")


def url(name, render, **kwargs):
    return reverse(name, kwargs={"project_id": render.project_id, "render_id": render.pk, **kwargs})


def page_text(response_or_html):
    """What a person reads: the HTML without its tags, runs of whitespace folded (for assertions on sentences)."""
    html = response_or_html if isinstance(response_or_html, str) else response_or_html.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
    return re.sub(r" ([:;,.!?])", r"\1", text)  # a tag before punctuation left a space
