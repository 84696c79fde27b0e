"""Screenshots of the main pages for docs/ (`make screenshots` sets SORAWEB_SCREENSHOTS=docs). Under `make test`
the same pages are opened and checked, and nothing is written."""

import io

import pytest
from django.core.files.base import ContentFile
from PIL import Image, ImageDraw

from projects import services
from projects.models import Role
from tests.fixtures.browser import DESKTOP, PHONE, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = [("desktop", DESKTOP), ("phone", PHONE)]


@pytest.fixture
def team(django_user_model):
    """A small team with a few projects, as a real one would look."""
    def user(username, first, last):
        return django_user_model.objects.create_user(username, f"{username}@example.org", "password",
                                                     first_name=first, last_name=last)
    alice = user("alice", "Alice", "Martin")
    bob = user("bob", "Bob", "Okafor")
    user("dana", "Dana", "Kim")
    erin = user("erin", "Erin", "Rossi")
    trailer = services.create_project(alice, "Launch trailer",
                                      "Hero shots and cut-downs for the spring launch: 16:9 for web, 9:16 for social.")
    services.add_member(trailer, "bob", Role.EDITOR)
    services.add_member(trailer, "dana", Role.VIEWER)
    services.add_member(trailer, "erin", Role.OWNER)
    services.invite(trailer, "frank@example.org", Role.EDITOR, alice)
    demos = services.create_project(alice, "Product demos", "Short loops of the app in use.")
    services.add_member(demos, "bob", Role.EDITOR)
    services.create_project(bob, "Moodboard", "")
    services.add_member(services.create_project(erin, "Storyboards", "Animatics for the Q3 campaign."), "alice",
                        Role.VIEWER)
    for i, (sky, ground, sun) in enumerate(SCENES[:5]):
        _render(trailer, bob if i % 2 else alice, sky, ground, sun, "completed")
    _render(demos, bob, *SCENES[5], "completed")
    _render(demos, bob, *SCENES[2], "in_progress")
    old = services.create_project(alice, "Holiday 2025", "Last winter's campaign.")
    services.archive_project(old)
    return {"alice": alice, "bob": bob, "trailer": trailer}


# (sky top, sky bottom / ground, sun) colours of little generated scenes used as thumbnails
SCENES = [
    ("#1e3a8a", "#f97316", "#fde68a"),
    ("#0f766e", "#a7f3d0", "#fef9c3"),
    ("#581c87", "#ec4899", "#fbcfe8"),
    ("#0c4a6e", "#38bdf8", "#ffffff"),
    ("#7c2d12", "#facc15", "#fff7ed"),
    ("#111827", "#6366f1", "#e0e7ff"),
]


def _thumbnail(sky, ground, sun, size=(640, 360)):
    width, height = size
    image = Image.new("RGB", size, sky)
    draw = ImageDraw.Draw(image)
    top, bottom = Image.new("RGB", (1, 1), sky).getpixel((0, 0)), Image.new("RGB", (1, 1), ground).getpixel((0, 0))
    for y in range(height):
        t = y / height
        draw.line([(0, y), (width, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    draw.ellipse([width * .58, height * .28, width * .72, height * .53], fill=sun)
    draw.polygon([(0, height), (0, height * .72), (width * .3, height * .55), (width * .55, height * .75),
                  (width * .8, height * .6), (width, height * .7), (width, height)], fill="#0b1020")
    out = io.BytesIO()
    image.save(out, "WEBP", quality=80)
    return out.getvalue()


def _render(project, author, sky, ground, sun, status):
    from renders.models import Render

    render = Render.objects.create(project=project, author=author, prompt="A wide shot at dawn", model="sora-2",
                                   size="1280x720", seconds=8, status=status)
    if status == "completed":
        render.thumbnail.save("thumbnail.webp", ContentFile(_thumbnail(sky, ground, sun)), save=True)
    return render


@pytest.mark.parametrize("size_name,viewport", SIZES)
def test_screenshot_sign_in(context_factory, size_name, viewport):
    page = context_factory(viewport=viewport).new_page()
    page.goto("/accounts/login/")
    assert page.get_by_role("heading", name="Sign in to soraweb").is_visible()
    screenshot(page, f"signin-{size_name}")


@pytest.mark.parametrize("size_name,viewport", SIZES)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshot_projects(context_factory, team, size_name, viewport, scheme):
    page = context_factory(team["alice"], viewport=viewport, color_scheme=scheme).new_page()
    page.goto("/")
    assert page.get_by_role("link", name="Launch trailer", exact=True).is_visible()
    assert page.get_by_role("heading", name="Archived").is_visible()
    screenshot(page, f"projects-{size_name}" + ("-dark" if scheme == "dark" else ""))


@pytest.mark.parametrize("size_name,viewport", SIZES)
def test_screenshot_members(context_factory, team, size_name, viewport):
    page = context_factory(team["alice"], viewport=viewport).new_page()
    page.goto(f"/projects/{team['trailer'].pk}/members/")
    assert page.get_by_role("heading", name="People").is_visible()
    assert page.get_by_role("button", name="Revoke the invitation to frank@example.org").is_visible()
    screenshot(page, f"members-{size_name}")


@pytest.mark.parametrize("size_name,viewport", SIZES)
def test_screenshot_forbidden(context_factory, team, size_name, viewport):
    page = context_factory(team["bob"], viewport=viewport).new_page()
    response = page.goto(f"/projects/{team['trailer'].pk}/settings/")
    assert response.status == 403
    assert page.get_by_role("heading", name="You can’t do that here").is_visible()
    screenshot(page, f"forbidden-{size_name}")
