"""Screenshots of the studio page for docs/ (light and dark, desktop and phone), written only when
SORAWEB_SCREENSHOTS is set (`make screenshots`); under `make test` the page is opened and checked, nothing written."""

import io
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image, ImageDraw

from projects.models import Membership, Project, Role
from renders.models import Favourite, Render
from tests.fixtures.browser import DESKTOP, PHONE, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]

# prompt, size, seconds, model, status, progress, colours (sky, horizon, sun), minutes ago, author
RENDERS = [
    ("Drone shot over a foggy pine forest at sunrise, slow push forward, soft golden light", "1280x720", 8,
     "sora-2", "in_progress", 62, None, 1, "bob"),
    ("Close-up of a paper boat drifting down a rainy gutter, overcast, shallow focus", "720x1280", 4, "sora-2",
     "queued", 0, None, 2, "alice"),
    ("Wide shot: a red tram crosses an iron bridge at dusk, neon signs flicker on", "1280x720", 12, "sora-2-pro",
     "completed", 100, ("#1e3a8a", "#f97316", "#fde68a"), 14, "alice"),
    ("Handheld: a lighthouse keeper climbs the spiral stairs, lantern light, night", "720x1280", 8, "sora-2",
     "completed", 100, ("#0f172a", "#6366f1", "#e0e7ff"), 40, "bob"),
    ("A fox trots across fresh snow at the forest edge, low winter sun", "1280x720", 8, "sora-2", "completed", 100,
     ("#0c4a6e", "#38bdf8", "#ffffff"), 95, "alice"),
    ("Macro: dew drops roll off a green leaf, morning light", "1280x720", 4, "sora-2", "failed", 0, None, 130,
     "bob"),
    ("Time-lapse of clouds over desert mesas, golden hour", "1792x1024", 12, "sora-2-pro", "completed", 100,
     ("#7c2d12", "#facc15", "#fff7ed"), 300, "alice"),
    ("A cat watches rain on a window, cosy lamp light inside", "720x1280", 4, "sora-2", "completed", 100,
     ("#134e4a", "#5eead4", "#fef9c3"), 600, "bob"),
]


def scene(size, sky, horizon, sun):
    width, height = (int(v) // 4 for v in size.split("x"))
    image = Image.new("RGB", (width, height), sky)
    draw = ImageDraw.Draw(image)
    top = Image.new("RGB", (1, 1), sky).getpixel((0, 0))
    bottom = Image.new("RGB", (1, 1), horizon).getpixel((0, 0))
    for y in range(height):
        t = y / height
        draw.line([(0, y), (width, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    r = min(width, height) * 0.09
    draw.ellipse([width * 0.62 - r, height * 0.42 - r, width * 0.62 + r, height * 0.42 + r], fill=sun)
    draw.polygon([(0, height), (0, height * 0.74), (width * 0.3, height * 0.6), (width * 0.55, height * 0.78),
                  (width * 0.8, height * 0.64), (width, height * 0.72), (width, height)], fill="#0b1020")
    out = io.BytesIO()
    image.save(out, "WEBP", quality=80)
    return out.getvalue()


@pytest.fixture
def studio(django_user_model):
    def user(username, first, last):
        return django_user_model.objects.create_user(username, f"{username}@example.org", "password",
                                                     first_name=first, last_name=last)

    people = {"alice": user("alice", "Alice", "Martin"), "bob": user("bob", "Bob", "Okafor")}
    project = Project.objects.create(name="Launch trailer", created_by=people["alice"],
                                     description="Hero shots and cut-downs for the spring launch.")
    Membership.objects.create(project=project, user=people["alice"], role=Role.OWNER)
    Membership.objects.create(project=project, user=people["bob"], role=Role.EDITOR)
    now = timezone.now()
    for prompt, size, seconds, model, status, progress, colours, minutes, author in reversed(RENDERS):
        cost = {"sora-2": "0.10", "sora-2-pro": "0.50" if size in ("1792x1024", "1024x1792") else "0.30"}[model]
        estimate = f"{float(cost) * seconds:.2f}"
        render = Render.objects.create(
            project=project, author=people[author], prompt=prompt, model=model, size=size, seconds=seconds,
            status=status, progress=progress, cost_estimate_usd=estimate,
            charged_usd=estimate if status == "completed" else "0",
            error_message="The provider's safety system refused this prompt or image. Try rewording it."
            if status == "failed" else "", created_at=now - timedelta(minutes=minutes))
        if colours:
            render.thumbnail.save("thumbnail.webp", ContentFile(scene(size, *colours)), save=True)
        if minutes in (14, 300):
            Favourite.objects.create(user=people["alice"], render=render)
    return project, people


@pytest.mark.parametrize("size_name,viewport", [("desktop", DESKTOP), ("phone", PHONE)])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshot_studio(context_factory, studio, size_name, viewport, scheme):
    project, people = studio
    page = context_factory(people["alice"], viewport=viewport, color_scheme=scheme).new_page()
    page.goto(f"/projects/{project.pk}/")
    page.get_by_label("Prompt", exact=True).fill("Slow dolly shot: a lighthouse at dawn, waves below, pastel light")
    assert page.get_by_role("heading", name="New render").is_visible()
    assert page.locator("#history-list > li").count() == len(RENDERS)
    assert page.locator("progress").count() == 2
    page.locator("#estimate").get_by_text("$0.40").wait_for()
    # a full-page picture includes the cards below the fold: load their (lazy) thumbnails first
    page.evaluate("document.querySelectorAll('img[loading=lazy]').forEach(img => { img.loading = 'eager'; })")
    for _ in range(50):  # (not wait_for_function: the page's CSP forbids the eval it uses)
        if page.evaluate("[...document.images].every(img => !img.src || (img.complete && img.naturalWidth > 0))"):
            break
        page.wait_for_timeout(100)
    screenshot(page, f"studio-{size_name}" + ("-dark" if scheme == "dark" else ""))
