"""Housekeeping (periodic): storage holds only files that a render still needs.

- Stored files of deleted renders are removed (the delete enqueued that already; this catches a lost message).
- Part files of downloads (RENDER_DOWNLOAD_DIR) that no attempt holding its render writes: an attempt removes what
  earlier ones of its render left, so this catches those of renders that ended another way after a worker was killed.
- Files under renders/ that no render points to are removed once older than HOUSEKEEPING_GRACE_SECONDS:
  reference images of submits that never committed ("unused uploads"), assets of an interrupted download that
  another run replaced, files of renders or projects whose rows are gone. The grace period keeps the sweep away
  from a file whose render row is being committed at this moment.

Stored files go through the storage API only, so it is the same on local disk and S3 (part files are local, as
downloads are).
"""

import logging
import os
import re
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Q
from django.utils import timezone

from renders.models import Render
from renders.pipeline import remove_files

log = logging.getLogger(__name__)

ROOT = "renders"
FILE_FIELDS = ("video", "thumbnail", "spritesheet", "reference_image")


def walk(storage=None, top=ROOT):
    """Every file name under `top` (storage names, '/'-separated)."""
    storage = storage or default_storage
    try:
        dirs, files = storage.listdir(top)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{top}/{name}"
    for name in dirs:
        yield from walk(storage, f"{top}/{name}")


def sweep(now=None, storage=None):
    """Run both sweeps; returns the counts (for the task's result and the logs)."""
    storage = storage or default_storage
    now = now or timezone.now()
    deleted = sweep_deleted_renders()
    orphans = sweep_orphans(now, storage)
    parts = sweep_part_files(now)
    if deleted or orphans or parts:
        log.info("housekeeping: files of %d deleted render(s) removed, %d unused file(s) removed, %d part file(s) "
                 "removed", deleted, orphans, parts)
    return {"deleted_renders": deleted, "orphan_files": orphans, "part_files": parts}


def sweep_deleted_renders():
    has_files = Q()
    for name in FILE_FIELDS:
        has_files |= ~Q(**{name: ""})
    count = 0
    for pk in Render.objects.filter(has_files, deleted_at__isnull=False).values_list("pk", flat=True).iterator():
        remove_files(pk)
        count += 1
    return count


def sweep_orphans(now, storage):
    cutoff = now - timedelta(seconds=settings.HOUSEKEEPING_GRACE_SECONDS)
    referenced = {}
    removed = 0
    for name in list(walk(storage)):
        project_id = _project_of(name)
        if project_id not in referenced:
            referenced[project_id] = _names_in_use(project_id)
        if name in referenced[project_id]:
            continue
        try:
            if storage.get_modified_time(name) > cutoff:
                continue
            storage.delete(name)
        except FileNotFoundError:
            continue
        removed += 1
        _remove_empty_parent(storage, name)
    return removed


PART_NAME = re.compile(r"render-(?P<pk>\d+)-(?P<variant>\w+)-(?P<token>\w+)\.part")


def sweep_part_files(now):
    """Remove the download part files that no attempt holding its render writes (render-<id>-<variant>-<token>.part,
    the token of the claim that wrote it), once untouched for HOUSEKEEPING_GRACE_SECONDS."""
    cutoff = (now - timedelta(seconds=settings.HOUSEKEEPING_GRACE_SECONDS)).timestamp()
    folder = settings.RENDER_DOWNLOAD_DIR
    parts = {path: PART_NAME.fullmatch(path.name) for path in folder.glob("*.part")} if folder.is_dir() else {}
    held = set(Render.objects.filter(pk__in={int(m["pk"]) for m in parts.values() if m}, heartbeat_at__isnull=False)
               .values_list("pk", "claim_token"))
    removed = 0
    for path, match in parts.items():
        if match and (int(match["pk"]), match["token"]) in held:
            continue
        try:
            if path.stat().st_mtime > cutoff:
                continue
            path.unlink()
        except FileNotFoundError:
            continue
        removed += 1
    return removed


def _project_of(name):
    # renders/<project_id>/<render_id>/<file> or renders/<project_id>/references/<file>
    parts = name.split("/")
    return int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else None


def _names_in_use(project_id):
    if project_id is None:
        return set()
    names = set()
    for row in Render.objects.filter(project_id=project_id).values_list(*FILE_FIELDS).iterator():
        names.update(value for value in row if value)
    return names


def _remove_empty_parent(storage, name):
    # local disk only: object stores have no directories to leave behind
    try:
        folder = os.path.dirname(storage.path(name))
    except NotImplementedError:
        return
    try:
        if not os.listdir(folder):
            os.rmdir(folder)
    except OSError:
        pass


@shared_task(name="renders.housekeeping.sweep_storage")
def sweep_storage():
    return sweep()
