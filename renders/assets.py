"""A render's stored files (video, thumbnail, spritesheet), only for members of its project.

Local storage: served here with HTTP Range support (206) so players can seek, or handed to nginx with
X-Accel-Redirect when ASSET_ACCEL_REDIRECT_PREFIX is set (nginx then does the ranges). Remote storage (S3):
a redirect to a short-lived presigned URL. Never an open media URL.
"""

import re

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.views.decorators.http import require_safe

from projects.access import get_in_project, get_membership
from projects.models import Role
from renders.models import VARIANTS, Render

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


def parse_range(header, size):
    """(start, end) inclusive for a single satisfiable byte range; None to serve the whole file (no header,
    or several ranges, which the spec lets a server ignore); "unsatisfiable" for a range outside the file."""
    if not header:
        return None
    match = RANGE_RE.match(header.strip())
    if not match:
        return None if "," in header else "unsatisfiable"
    first, last = match.groups()
    if not first and not last:
        return "unsatisfiable"
    if not first:  # the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            return "unsatisfiable"
        return max(size - length, 0), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        return "unsatisfiable"
    return start, min(end, size - 1)


def _read_range(f, start, length):
    try:
        f.seek(start)
        while length > 0:
            chunk = f.read(min(CHUNK, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        f.close()


@login_required
@require_safe
def render_asset(request, project_id, render_id, variant):
    membership = get_membership(request.user, project_id, Role.VIEWER)
    if variant not in VARIANTS:
        raise Http404
    render = get_in_project(membership, Render.objects.visible(), pk=render_id)
    field_name, content_type, filename = VARIANTS[variant]
    field = getattr(render, field_name)
    if not field:
        raise Http404
    storage = field.storage
    download_name = f"render-{render.pk}-{filename}"
    as_attachment = request.GET.get("download") == "1"

    try:
        path = storage.path(field.name)
    except NotImplementedError:
        # remote storage: S3's url() is presigned (querystring auth) and short-lived
        return HttpResponseRedirect(storage.url(field.name))

    if settings.ASSET_ACCEL_REDIRECT_PREFIX:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = settings.ASSET_ACCEL_REDIRECT_PREFIX.rstrip("/") + "/" + field.name
        _common_headers(response, download_name, as_attachment)
        return response

    try:
        f = open(path, "rb")  # noqa: SIM115 - the response closes it
    except FileNotFoundError:
        raise Http404 from None
    size = storage.size(field.name)
    wanted = parse_range(request.headers.get("Range"), size)
    if wanted == "unsatisfiable":
        f.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response
    if wanted is None:
        response = FileResponse(f, content_type=content_type)
        response["Content-Length"] = str(size)
    else:
        start, end = wanted
        response = StreamingHttpResponse(_read_range(f, start, end - start + 1), status=206,
                                         content_type=content_type)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    _common_headers(response, download_name, as_attachment)
    return response


def _common_headers(response, download_name, as_attachment):
    response["Accept-Ranges"] = "bytes"
    # private: a membership-checked file must not sit in a shared cache
    response["Cache-Control"] = "private, max-age=3600"
    disposition = "attachment" if as_attachment else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{download_name}"'
