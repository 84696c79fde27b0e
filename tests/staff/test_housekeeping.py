"""Housekeeping: stored files of deleted renders, unused uploads and abandoned download parts are swept; nothing a
render needs is touched."""

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


def test_it_removes_the_part_files_that_no_attempt_holding_its_render_writes(make_render, settings, tmp_path):
    settings.RENDER_DOWNLOAD_DIR = tmp_path
    held = make_render(Status.DOWNLOADING, heartbeat_at=timezone.now(), claim_token="a11ve")
    ended = make_render(Status.FAILED, claim_token="0ld")
    kept = {f"render-{held.pk}-video-a11ve.part", f"render-{held.pk}-thumbnail-fresh.part"}
    removed = {f"render-{held.pk}-video-0ld.part",  # an earlier attempt of a render held by another now
               f"render-{ended.pk}-video-0ld.part",  # its attempt was the last: the render ended without it
               "render-1-video.part"}  # not a part name of ours
    for name in kept | removed:
        (tmp_path / name).write_bytes(b"part")
        if "fresh" not in name:
            then = time.time() - 3 * 86400
            os.utime(tmp_path / name, (then, then))
    assert housekeeping.sweep()["part_files"] == 3
    assert {path.name for path in tmp_path.iterdir()} == kept  # the young one waits for the grace period


def test_it_is_on_the_beat_schedule_and_importable_by_the_worker(settings):
    assert settings.CELERY_BEAT_SCHEDULE["renders-housekeeping"]["task"] == housekeeping.sweep_storage.name
    assert "renders.housekeeping" in settings.CELERY_IMPORTS


def test_an_empty_storage_is_fine():
    assert housekeeping.sweep() == {"deleted_renders": 0, "orphan_files": 0, "part_files": 0}
