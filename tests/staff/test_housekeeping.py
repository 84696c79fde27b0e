"""Housekeeping: stored files of deleted renders and unused uploads are swept; nothing a render needs is touched."""

import os
import time
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from renders import housekeeping
from renders.states import Status

pytestmark = pytest.mark.django_db


def age(name, days):
    then = time.time() - days * 86400
    os.utime(default_storage.path(name), (then, then))


def test_it_removes_the_files_of_deleted_renders(make_render):
    render = make_render(Status.COMPLETED, deleted_at=timezone.now())
    render.video.save("video.mp4", ContentFile(b"v" * 10), save=True)
    render.reference_image.save("reference.png", ContentFile(b"p"), save=True)
    path = default_storage.path(render.video.name)
    assert housekeeping.sweep()["deleted_renders"] == 1
    render.refresh_from_db()
    assert not render.video and not render.reference_image and not os.path.exists(path)
    assert housekeeping.sweep()["deleted_renders"] == 0  # a rerun finds nothing


def test_it_removes_unused_uploads_and_orphans_once_they_are_old(make_render, project):
    kept = make_render(Status.COMPLETED)
    kept.video.save("video.mp4", ContentFile(b"v"), save=True)
    kept.reference_image.save("reference.png", ContentFile(b"p"), save=True)
    unused = default_storage.save(f"renders/{project.pk}/references/abandoned.png", ContentFile(b"x"))
    fresh = default_storage.save(f"renders/{project.pk}/references/committing-now.png", ContentFile(b"x"))
    gone = default_storage.save("renders/424242/77/video.mp4", ContentFile(b"x"))
    for name in (kept.video.name, kept.reference_image.name, unused, gone):
        age(name, 3)

    result = housekeeping.sweep()

    assert result["orphan_files"] == 2
    assert not default_storage.exists(unused) and not default_storage.exists(gone)
    assert default_storage.exists(fresh)  # younger than HOUSEKEEPING_GRACE_SECONDS
    assert default_storage.exists(kept.video.name) and default_storage.exists(kept.reference_image.name)
    assert not os.path.exists(default_storage.path("renders/424242/77"))  # the emptied folder goes too


def test_the_grace_period_is_a_setting(settings, project):
    settings.HOUSEKEEPING_GRACE_SECONDS = 0
    name = default_storage.save(f"renders/{project.pk}/references/abandoned.png", ContentFile(b"x"))
    housekeeping.sweep(now=timezone.now() + timedelta(seconds=1))
    assert not default_storage.exists(name)


def test_it_is_on_the_beat_schedule_and_importable_by_the_worker(settings):
    assert settings.CELERY_BEAT_SCHEDULE["renders-housekeeping"]["task"] == housekeeping.sweep_storage.name
    assert "renders.housekeeping" in settings.CELERY_IMPORTS


def test_an_empty_storage_is_fine():
    assert housekeeping.sweep() == {"deleted_renders": 0, "orphan_files": 0}
