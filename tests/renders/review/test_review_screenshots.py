"""Screenshots of the render page and its lineage for docs/ (`make screenshots` sets SORAWEB_SCREENSHOTS=docs).
Under `make test` the same pages are opened and checked, and nothing is written.

The family is made in the database (with a real MP4, thumbnails and spritesheets drawn with Pillow), so the
pictures are the same on every run: a lighthouse at dawn, remixed into a storm, which was remixed twice more."""

import io
import math
import os
import subprocess
from datetime import timedelta

import imageio_ffmpeg
import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image, ImageDraw

from projects.models import Membership, Project, Role
from providers.models import ApiKey
from renders import lifecycle
from renders.models import Comment, EventKind, Render
from tests.fixtures.browser import DESKTOP, PHONE, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]

W, H = 1280, 720


def _scene(sky_top, sky_bottom, sea, t=0.5, storm=False, size=(W, H)):
    """A lighthouse on a headland; `t` (0..1) moves the sun (or the lightning) across the sky."""
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    top, bottom = Image.new("RGB", (1, 1), sky_top).getpixel((0, 0)), Image.new("RGB", (1, 1), sky_bottom).getpixel(
        (0, 0))
    horizon = int(height * .62)
    for y in range(horizon):
        k = y / horizon
        draw.line([(0, y), (width, y)], fill=tuple(int(a + (b - a) * k) for a, b in zip(top, bottom, strict=True)))
    draw.rectangle([0, horizon, width, height], fill=sea)
    for i in range(12):  # waves
        y = horizon + 12 + i * (height - horizon) / 12
        draw.arc([width * ((i * .37) % 1) - 60, y, width * ((i * .37) % 1) + 60, y + 18], 200, 340,
                 fill="#ffffff" if not storm else "#cbd5e1", width=2)
    if storm:
        x = width * (.2 + .6 * t)
        draw.line([(x, 0), (x - 40, height * .25), (x + 10, height * .3), (x - 30, horizon)], fill="#fef08a", width=6)
    else:
        cx, cy = width * (.15 + .7 * t), horizon - math.sin(math.pi * t) * height * .35
        draw.ellipse([cx - 45, cy - 45, cx + 45, cy + 45], fill="#fde68a")
    # headland and lighthouse
    draw.polygon([(width * .62, horizon), (width * .72, horizon - 60), (width, horizon - 90), (width, horizon)],
                 fill="#1f2937")
    bx = width * .8
    draw.polygon([(bx - 22, horizon - 80), (bx + 22, horizon - 80), (bx + 12, horizon - 330), (bx - 12, horizon - 330)],
                 fill="#f8fafc")
    for k in range(3):
        y = horizon - 120 - k * 70
        draw.rectangle([bx - 20 + k * 3, y - 20, bx + 20 - k * 3, y], fill="#dc2626")
    draw.rectangle([bx - 16, horizon - 360, bx + 16, horizon - 330], fill="#fde047")
    reach = width * .5 * (-1 if t < .5 else 1)
    draw.polygon([(bx, horizon - 345), (bx + reach, horizon - 420), (bx + reach, horizon - 300)],
                 fill="#fef9c3" if not storm else "#fde68a")
    return image


def _webp(image, size=(640, 360)):
    out = io.BytesIO()
    image.resize(size).save(out, "WEBP", quality=80)
    return out.getvalue()


def _spritesheet(colours, storm):
    """5 x 2 frames, each a quarter of the video's width and height (what sorasim makes)."""
    tile = (W // 4, H // 4)
    sheet = Image.new("RGB", (tile[0] * 5, tile[1] * 2))
    for i in range(10):
        frame = _scene(*colours, t=(i + .5) / 10, storm=storm).resize(tile)
        sheet.paste(frame, ((i % 5) * tile[0], (i // 5) * tile[1]))
    out = io.BytesIO()
    sheet.save(out, "JPEG", quality=80)
    return out.getvalue()


def _mp4(path, colour, seconds):
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"color=c={colour}:s=640x360:r=4:d={seconds}", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)], check=True)
    return path.read_bytes()


DAWN = ("#1e3a8a", "#f97316", "#0c4a6e")
NIGHT = ("#020617", "#312e81", "#0f172a")
STORM = ("#111827", "#475569", "#1e293b")
GOLD = ("#7c2d12", "#facc15", "#164e63")


@pytest.fixture
def family(django_user_model, tmp_path):
    def user(username, first, last):
        return django_user_model.objects.create_user(username, f"{username}@example.org", "password",
                                                     first_name=first, last_name=last)
    alice, bob, dana = user("alice", "Alice", "Martin"), user("bob", "Bob", "Okafor"), user("dana", "Dana", "Kim")
    project = Project.objects.create(name="Launch trailer", created_by=alice)
    for person, role in ((alice, Role.OWNER), (bob, Role.EDITOR), (dana, Role.VIEWER)):
        Membership.objects.create(project=project, user=person, role=role)
    start = timezone.now() - timedelta(hours=5)
    key = ApiKey(name="main", base_url="http://127.0.0.1:9/v1", can_remix_endpoint=True)
    key.secret = "sk-screenshots-0001"
    key.save()
    video = _mp4(tmp_path / "clip.mp4", "0x1e3a8a", 8)

    def make(author, prompt, colours, parent=None, status="completed", minutes=0, storm=False, **fields):
        at = start + timedelta(minutes=minutes)
        render = Render.objects.create(
            project=project, author=author, prompt=prompt, model="sora-2-pro", size="1280x720", seconds=8,
            status=status, remix_of=parent, created_at=at, updated_at=at, cost_estimate_usd="2.40", api_key=key,
            provider_video_id=f"video_{minutes:048x}",
            charged_usd="2.40" if status == "completed" else "0", progress=100 if status == "completed" else 0,
            **fields)
        events = [("submitted", "", "submitting", f"{'Remix s' if parent else 'S'}ubmitted by {author.username}: "
                                                  "sora-2-pro, 1280x720, 8 s.", "")]
        if status != "submitting":
            events += [("status", "submitting", "sending", "Sending the create to the provider with the key main.", ""),
                       ("request", "", "", "The provider accepted the job video_68d2e0f1.", "req_8c1f2a"),
                       ("status", "sending", "queued", "Queued at the provider.", "req_8c1f2a"),
                       ("status", "queued", "in_progress", "In progress at the provider (from poll).", "req_91bd07")]
        if status == "completed":
            events += [("status", "in_progress", "downloading",
                        "Finished at the provider (from webhook); storing the video.", "req_a4410e"),
                       ("request", "", "", "Stored the video (1,912,204 bytes).", ""),
                       ("status", "downloading", "completed", "Completed: 8.00 s of video stored.", "")]
        for n, (kind, was, now, message, request_id) in enumerate(events):
            render.events.create(kind=kind, status_from=was, status_to=now, message=message, request_id=request_id,
                                 source="webhook" if "webhook" in message else "poll" if "poll" in message else "",
                                 created_at=at + timedelta(seconds=n * 20))
        if status == "completed":
            render.thumbnail.save("thumbnail.webp", ContentFile(_webp(_scene(*colours, storm=storm))), save=False)
            render.spritesheet.save("spritesheet.jpg", ContentFile(_spritesheet(colours, storm)), save=False)
            render.video.save("video.mp4", ContentFile(video), save=False)
            render.delivered_seconds = "8.000"
            render.completed_at = at + timedelta(minutes=3)
            render.save()
        return render

    dawn = make(alice, "A wide shot of a red-and-white lighthouse at dawn, waves rolling in, the sun rising "
                "behind the headland, gulls in the distance. Warm, calm, cinematic.", DAWN)
    storm = make(bob, "The same lighthouse at night, a storm coming in from the sea, lightning over the water, "
                 "its beam sweeping through the rain.", STORM, parent=dawn, minutes=20, storm=True)
    make(alice, "The same lighthouse at golden hour, a slow drone shot circling the tower.", GOLD, parent=dawn,
         minutes=35)
    strike = make(bob, "Lightning strikes the sea right behind the lighthouse; the beam flickers.", STORM,
                  parent=storm, minutes=60, storm=True)
    snow = make(bob, "The storm turns to snow falling on the lighthouse.", NIGHT, parent=storm, minutes=70,
                status="failed", error_code="provider_unavailable",
                error_message=lifecycle.plain_error("provider_unavailable"))
    snow.events.create(kind=EventKind.STATUS, status_from="in_progress", status_to="failed", source="worker",
                       message=lifecycle.plain_error("provider_unavailable"), created_at=snow.created_at +
                       timedelta(minutes=4))
    slow = make(alice, "Slow motion of the lightning strike, the beam frozen mid-sweep.", STORM, parent=strike,
                minutes=120, status="in_progress")
    Render.objects.filter(pk=slow.pk).update(progress=45)
    Comment.objects.create(render=storm, project=project, author=dana, body="The rain on the lens at 0:05 is great.",
                           created_at=storm.created_at + timedelta(minutes=30))
    Comment.objects.create(render=storm, project=project, author=alice,
                           body="Agreed. Let's try a version where the lightning hits closer.",
                           created_at=storm.created_at + timedelta(minutes=38))
    return {"alice": alice, "dana": dana, "dawn": dawn, "storm": storm, "snow": snow, "project": project}


def detail(render):
    return reverse("render_detail", kwargs={"project_id": render.project_id, "render_id": render.pk})


def element_screenshot(locator, name):
    """`<SORAWEB_SCREENSHOTS>/<name>.png` of one element when that variable is set, else nothing."""
    folder = os.environ.get("SORAWEB_SCREENSHOTS")
    if not folder:
        return None
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{name}.png")
    locator.screenshot(path=path, animations="disabled", caret="hide")
    return path


@pytest.mark.parametrize("size_name,viewport", [("desktop", DESKTOP), ("phone", PHONE)])
def test_screenshot_render_page(context_factory, family, size_name, viewport):
    page = context_factory(family["alice"], viewport=viewport).new_page()
    page.goto(detail(family["storm"]))
    assert page.get_by_role("heading", name=f"Render #{family['storm'].pk}").is_visible()
    page.locator(".scrubber.is-ready").wait_for()  # the scrubber stands in for the plain sheet
    assert page.locator(".film-frame").count() == 10
    assert page.locator("#lineage").get_by_role("link", name=f"#{family['dawn'].pk}", exact=True).is_visible()
    assert page.locator("#comments .comment").count() == 2
    assert page.get_by_label("What should change?").is_visible()  # the remix form: the key can remix
    page.evaluate("document.activeElement && document.activeElement.blur()")
    screenshot(page, f"render-{size_name}")


def test_screenshot_lineage(context_factory, family):
    page = context_factory(family["alice"], viewport=DESKTOP).new_page()
    page.goto(detail(family["dawn"]))
    lineage = page.locator("#lineage")
    assert lineage.locator(".lineage-node").count() == 5  # the whole tree below the first render
    assert lineage.locator(".lineage-node img").count() == 3  # the completed ones, with their thumbnails
    assert "$9.60 charged over 6 renders + $2.40 in flight" in " ".join(lineage.inner_text().split())
    element_screenshot(lineage, "lineage-desktop")


def test_screenshot_failed_render(context_factory, family):
    page = context_factory(family["alice"], viewport=DESKTOP).new_page()
    page.goto(detail(family["snow"]))
    failure = page.locator("section.failure")
    assert failure.get_by_role("heading", name="The provider is down").is_visible()
    assert failure.get_by_role("button", name="Try again").is_visible()
    screenshot(page, "render-failed-desktop", full_page=False)
