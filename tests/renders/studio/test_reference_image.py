"""The reference image of a submission: checked by content, refused with a clear message and nothing stored,
cropped from the centre and resized with Pillow when its size differs and the person chose so."""

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from renders.forms import inspect_reference
from renders.models import Render
from tests.renders.studio.conftest import assert_no_metadata, image_bytes, phone_photo, upload

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]

GOOD = {"prompt": "The first frame comes alive", "model": "sora-2", "size": "720x1280", "seconds": "4"}


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def crafted_png(width, height, idat=b""):
    """A PNG of any declared size, built chunk by chunk (a bomb declares a huge size in a tiny file)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = idat or zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")


def stored_files(settings):
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def post(client, project, image, **extra):
    return client.post(f"/projects/{project.pk}/", {**GOOD, "reference_image": image, **extra})


@pytest.mark.parametrize(("fmt", "ext"), [("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp")])
def test_an_image_of_the_exact_size_is_stored_in_its_format_and_size(client, bob, project, settings, fmt, ext):
    client.force_login(bob)
    content = image_bytes((720, 1280), fmt)
    assert post(client, project, upload(content, f"first.{ext}")).status_code == 302
    render = Render.objects.get()
    assert render.reference_image.name.endswith(f".{ext}")
    with Image.open(render.reference_image) as stored:
        assert (stored.format, stored.size) == (fmt, (720, 1280))
        colour = stored.convert("RGB").getpixel((360, 640))
        assert max(abs(a - b) for a, b in zip(colour, (200, 30, 30), strict=True)) <= 3


@pytest.mark.parametrize("orientation", [1, 6])
@pytest.mark.parametrize(("fmt", "ext"), [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp")])
def test_a_phone_photo_is_stored_upright_without_its_exif_gps_xmp_or_comments(client, bob, project, fmt, ext,
                                                                               orientation):
    # orientation 1: stored 720x1280 as it is; 6: a 1280x720 photo shown turned, which is the video's 720x1280
    size = (1280, 720) if orientation == 6 else (720, 1280)
    client.force_login(bob)
    response = post(client, project, upload(phone_photo(fmt, size, orientation), f"IMG_0001.{ext}"))
    assert response.status_code == 302
    render = Render.objects.get()
    assert render.reference_image.name.endswith(f".{ext}")
    with render.reference_image.open("rb") as f:
        assert_no_metadata(f.read(), fmt, turned=orientation == 6)


def test_a_cropped_photo_is_stored_without_its_metadata(client, bob, project):
    client.force_login(bob)
    response = post(client, project, upload(phone_photo("JPEG", (1600, 900), 6), "IMG_0002.jpg"), crop_reference="on")
    assert response.status_code == 302
    with Render.objects.get().reference_image.open("rb") as f:
        assert_no_metadata(f.read(), "JPEG", turned=True)


def test_a_lossless_webp_stays_lossless():
    from renders.references import without_metadata

    buf = io.BytesIO()
    Image.new("RGB", (720, 1280), (200, 30, 30)).save(buf, "WEBP", lossless=True, exif=Image.Exif())
    clean = without_metadata(inspect_reference(upload(buf.getvalue(), "ref.webp")))
    assert b"VP8L" in clean.content[:64]


def jpeg_with_comment(comment):
    content = image_bytes((720, 1280), "JPEG")
    segment = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
    return content[:2] + segment + content[2:]


def png_with_text(text):
    content = image_bytes((720, 1280), "PNG")
    iend = content.rindex(b"IEND") - 4
    return content[:iend] + png_chunk(b"tEXt", b"Comment\x00" + text) + content[iend:]


def zip_bytes():
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("payload.class", b"\xca\xfe\xba\xbe")
    return buf.getvalue()


def gif_bytes():
    buf = io.BytesIO()
    Image.new("RGB", (720, 1280)).save(buf, "GIF")
    return buf.getvalue()


REFUSALS = {
    "a GIF behind a .png name": (lambda: gif_bytes(), "ref.png", "not a JPEG, PNG or WebP image, whatever its name"),
    "text behind a .jpg name": (lambda: b"hello, I am not a picture\n" * 40, "ref.jpg", "not a JPEG, PNG or WebP"),
    "a PNG with a ZIP (JAR) appended": (lambda: image_bytes() + zip_bytes(), "ref.png", "other data after the end"),
    "a JPEG with a script in a comment": (lambda: jpeg_with_comment(b"<script>alert(1)</script>"), "ref.jpg",
                                          "embedded markup"),
    "a PNG with HTML in a text chunk": (lambda: png_with_text(b"<html><body onload=x()>"), "ref.png",
                                        "embedded markup"),
    "a PHP polyglot": (lambda: png_with_text(b"<?php system($_GET['c']); ?>"), "ref.png", "embedded markup"),
    "a decompression bomb": (lambda: crafted_png(60_000, 60_000), "bomb.png", "decompression bomb"),
    "too many pixels": (lambda: crafted_png(9_000, 6_000), "huge.png", "more than the 40 megapixels"),
    "a truncated image": (lambda: image_bytes(color=None)[:-300], "cut.png", "damaged or cut short"),
    "a corrupt image": (lambda: crafted_png(720, 1280, idat=b"not zlib data at all" * 8), "bad.png",
                        "could not be read"),
    "an empty file": (lambda: b"", "empty.png", "empty"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_it_refuses_a_bad_upload_with_a_clear_message_and_stores_nothing(client, bob, project, settings, case,
                                                                       htmx_headers):
    make, name, message = REFUSALS[case]
    client.force_login(bob)
    response = post(client, project, upload(make(), name), **htmx_headers(f"/projects/{project.pk}/"))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert message in " ".join(errors.get("reference_image", [])), errors
    assert not Render.objects.exists() and stored_files(settings) == []
    html = response.content.decode()
    assert f"{GOOD['prompt']}</textarea>" in html  # the prompt is not lost
    assert 'name="reference_token"' not in html  # a refused file is not kept either


def test_it_refuses_a_file_over_20_mb(client, bob, project, settings):
    content = image_bytes() + b"\x00" * (20 * 1024 * 1024)
    client.force_login(bob)
    response = post(client, project, upload(content, "big.png"))
    assert "the most is 20 MB" in " ".join(response.context["form"].errors["reference_image"])
    assert not Render.objects.exists() and stored_files(settings) == []


def striped(size=(1000, 1000)):
    """Red edges and a blue middle: a centre crop to 9:16 keeps only blue."""
    image = Image.new("RGB", size, (220, 0, 0))
    image.paste((0, 0, 220), (200, 0, 800, 1000))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def test_a_wrong_size_is_refused_with_a_crop_preview_and_the_image_is_kept(client, bob, project, settings,
                                                                          htmx_headers):
    client.force_login(bob)
    response = post(client, project, upload(striped(), "square.png"), **htmx_headers(f"/projects/{project.pk}/"))
    form = response.context["form"]
    assert "The image is 1000x1000 pixels and the video is 720x1280" in form.errors["reference_image"][0]
    html = response.content.decode()
    assert 'id="crop-choice" class="crop-choice">' in html  # shown (not hidden)
    assert 'src="data:image/jpeg;base64,' in html
    assert 'name="reference_token" value="' in html and "Kept from your last try" in html
    assert not Render.objects.exists() and stored_files(settings) == []

    # the person ticks "use the cropped image" and submits again, without choosing the file again
    response = client.post(f"/projects/{project.pk}/", {**GOOD, "reference_token": form.kept_token,
                                                         "crop_reference": "on"})
    assert response.status_code == 302
    with Image.open(Render.objects.get().reference_image) as sent:
        assert sent.size == (720, 1280) and sent.format == "PNG"
        rgb = sent.convert("RGB")
        for x in (2, 360, 717):
            r, g, b = rgb.getpixel((x, 640))
            assert b > 180 and r < 40, (x, r, g, b)  # only the blue centre made it in


def test_a_wrong_size_with_the_crop_chosen_is_accepted_at_once(client, bob, project):
    client.force_login(bob)
    photo = image_bytes((1920, 1080), "JPEG")
    response = post(client, project, upload(photo, "photo.jpg"), crop_reference="on",
                    size="720x1280")
    assert response.status_code == 302
    with Image.open(Render.objects.get().reference_image) as sent:
        assert sent.size == (720, 1280) and sent.format == "JPEG"


def test_a_kept_image_survives_a_quota_refusal(client, bob, project, settings):
    settings.QUOTA_DEFAULT_MONTHLY_SECONDS = 2
    client.force_login(bob)
    response = post(client, project, upload(image_bytes(), "first.png"))
    assert "Not enough video seconds" in response.content.decode()
    token = response.context["form"].kept_token
    assert token
    settings.QUOTA_DEFAULT_MONTHLY_SECONDS = 100
    assert client.post(f"/projects/{project.pk}/", {**GOOD, "reference_token": token}).status_code == 302
    with Image.open(Render.objects.get().reference_image) as stored:  # re-encoded: the same pixels, losslessly
        assert stored.tobytes() == Image.open(io.BytesIO(image_bytes())).tobytes()


def test_a_kept_image_is_only_its_owners(client, alice, bob, project):
    client.force_login(bob)
    token = post(client, project, upload(striped(), "square.png")).context["form"].kept_token
    client.force_login(alice)
    response = client.post(f"/projects/{project.pk}/", {**GOOD, "reference_token": token, "crop_reference": "on"})
    assert "no longer kept" in " ".join(response.context["form"].errors["reference_image"])
    assert not Render.objects.exists()


def test_dont_use_it_drops_the_kept_image(client, bob, project):
    client.force_login(bob)
    token = post(client, project, upload(striped(), "square.png")).context["form"].kept_token
    response = client.post(f"/projects/{project.pk}/", {**GOOD, "reference_token": token, "drop_reference": "on"})
    assert response.status_code == 302 and not Render.objects.get().reference_image


def test_an_exif_turned_photo_is_judged_and_cropped_as_it_is_seen():
    image = Image.new("RGB", (1280, 720), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display: it shows as 720x1280
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif)
    reference = inspect_reference(upload(buf.getvalue(), "turned.jpg"))
    assert reference.size == "720x1280" and not reference.fits("720x1280")
