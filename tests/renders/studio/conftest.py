"""Fixtures of the studio's tests: a project with alice (owner), bob (editor), vera (viewer); charlie is an outsider.
Renders are made directly (bulk, any status) when a test is about showing them, and through the submit service
when it is about submitting."""

import io
import itertools

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from renders.models import Favourite, Render
from renders.states import Status


@pytest.fixture
def other_project(make_project, charlie):
    return make_project(charlie, "Elsewhere")


_serial = itertools.count(1)


def make_renders(project, authors, n, *, statuses=(Status.COMPLETED,), **fields):
    """n renders in one INSERT, cycling through authors and statuses; returns them newest last."""
    now = timezone.now()
    rows = []
    for i in range(n):
        status = statuses[i % len(statuses)]
        values = {"project": project, "author": authors[i % len(authors)],
                  "prompt": f"shot {next(_serial)}: a red fox in snow", "model": "sora-2", "size": "720x1280",
                  "seconds": 4, "status": status, "progress": 40 if status == Status.IN_PROGRESS else 0,
                  "cost_estimate_usd": "0.40", "created_at": now, "updated_at": now}
        values.update(fields)
        rows.append(Render(**values))
    return Render.objects.bulk_create(rows)


@pytest.fixture
def renders_of(project):
    def make(authors, n, **kw):
        return make_renders(project, authors, n, **kw)

    return make


def star(user, renders):
    Favourite.objects.bulk_create([Favourite(user=user, render=r) for r in renders])


def image_bytes(size=(720, 1280), fmt="PNG", color=(200, 30, 30), **save):
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt, **save)
    return buf.getvalue()


def upload(content, name="ref.png", content_type="image/png"):
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.fixture
def htmx_headers():
    def headers(current_url="", target=""):
        values = {"HTTP_HX_REQUEST": "true"}
        if current_url:
            values["HTTP_HX_CURRENT_URL"] = "http://testserver" + current_url
        if target:
            values["HTTP_HX_TARGET"] = target
        return values

    return headers
