"""Fixtures of the studio's tests: a project with alice (owner), bob (editor), vera (viewer); charlie is an outsider.
Renders are made directly (bulk, any status) when a test is about showing them, and through the submit service
when it is about submitting."""

import functools
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


GPS_IFD = 0x8825
ORIENTATION = 0x0112
CAMERA = b"Phonemaker X1"
COMMENT = b"Taken at home"
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description photoshop:City="Leiden"/></x:xmpmeta>'


@functools.cache  # the profile records the moment it was made: one for the whole run
def srgb_profile():
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def phone_photo(fmt="JPEG", size=(1280, 720), orientation=6):
    """A photo as a phone saves it: EXIF with the camera, GPS coordinates and an orientation, a comment, XMP naming a
    city and an sRGB profile. Its left half is red and its right half blue, so a turn can be seen in the pixels."""
    image = Image.new("RGB", size, (220, 20, 20))
    image.paste((20, 20, 220), (size[0] // 2, 0, size[0], size[1]))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = CAMERA.decode()
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (52.0, 9.0, 36.0), 3: "E", 4: (4.0, 29.0, 24.0)})
    options = {"exif": exif, "icc_profile": srgb_profile(), "xmp": XMP}
    if fmt == "JPEG":
        options["comment"] = COMMENT
    if fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        options["pnginfo"] = PngInfo()
        options["pnginfo"].add_text("Comment", COMMENT.decode())
        options.pop("xmp")
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def assert_no_metadata(content, fmt, *, turned):
    """`content` is a 720x1280 `fmt` image of phone_photo's pixels (`turned` upright from orientation 6), with its
    sRGB profile and nothing else."""
    for secret in (b"Exif\x00\x00", b"eXIf", CAMERA, COMMENT, b"xmpmeta", b"Leiden", b"tEXt", b"iTXt"):
        assert secret not in content, secret
    with Image.open(io.BytesIO(content)) as image:
        assert image.format == fmt and image.size == (720, 1280)
        assert not image.getexif() and not image.getexif().get_ifd(GPS_IFD)
        assert not {"exif", "comment", "xmp", "XML:com.adobe.xmp", "Comment"} & set(image.info)
        assert image.info.get("icc_profile") == srgb_profile()  # colours, not a person: kept
        rgb = image.convert("RGB")
    # orientation 6 shows the photo turned a quarter clockwise: its red left half on top
    red, blue = ((360, 200), (360, 1080)) if turned else ((100, 640), (620, 640))
    red, blue = rgb.getpixel(red), rgb.getpixel(blue)
    assert red[0] > 180 and red[2] < 80 and blue[2] > 180 and blue[0] < 80, (red, blue)
