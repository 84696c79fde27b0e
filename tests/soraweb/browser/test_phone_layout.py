"""At phone widths every page fits the screen: no horizontal scrolling."""

import pytest

from projects import services
from projects.models import Role

LONG_DESCRIPTION = "A description long enough to wrap over several lines on a phone screen."
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.project(name="A project with a rather long name for a small screen",
                                  description=LONG_DESCRIPTION)]

NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture
def long_names(project, alice, django_user_model):
    """A member and an invitation in `project` whose long names and addresses have to wrap."""
    long_name = django_user_model.objects.create_user("someone_with_a_very_long_username",
                                                      "someone.with.a.very.long.address@example.org", "password")
    services.add_member(project, long_name.username, Role.VIEWER)
    services.invite(project, "a.very.long.email.address.for.testing@example.org", Role.VIEWER, alice)


PAGES = [
    ("alice", "/", 200),
    ("alice", "/projects/new/", 200),
    ("alice", "/projects/{pk}/members/", 200),
    ("alice", "/projects/{pk}/settings/", 200),
    ("bob", "/projects/{pk}/settings/", 403),
    ("bob", "/projects/999999/members/", 404),
    (None, "/accounts/login/", 200),
]


@pytest.mark.parametrize("width", [320, 390])
def test_every_page_fits_a_phone(context_factory, alice, bob, project, long_names, width):
    pages = {who: context_factory(user, viewport={"width": width, "height": 800}).new_page()
             for who, user in (("alice", alice), ("bob", bob), (None, None))}
    for who, path, status in PAGES:
        page = pages[who]
        response = page.goto(path.format(pk=project.pk))
        assert response.status == status, path
        assert page.evaluate(NO_SIDEWAYS_SCROLL), f"{path} scrolls sideways at {width}px"


def test_the_invitation_page_fits_a_phone(context_factory, alice, project, long_names):
    _, url = services.invite(project, "new@example.org", Role.EDITOR, alice)
    page = context_factory(viewport={"width": 320, "height": 700}).new_page()
    page.goto("/invitations/" + url.rstrip("/").rsplit("/", 1)[1] + "/")
    assert page.get_by_role("heading", name="Create your account").is_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
