"""The permission matrix: every URL pattern of the app, read from the URL configuration, asked by an anonymous
visitor, an outsider, a viewer, an editor and an owner, with each declared method; the answers must be the
ones tests/soraweb/url_expectations.py declares. A pattern without a declared expectation fails the suite."""

from dataclasses import dataclass, field
from itertools import count

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from projects.models import Invitation, Membership, Project, Role
from tests.soraweb.url_expectations import LOGIN, PARAMS, PUBLIC, RANKS, STAFF, URLS

ACTORS = ("anonymous", "outsider", "viewer", "editor", "owner")
SKIPPED_MODULES = ("django.contrib.admin", "django.contrib.auth.views", "django.views.static",
                   "django.contrib.staticfiles")


# --- the URL configuration ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Route:
    name: str | None
    route: str
    kwargs: tuple
    module: str


def walk(patterns=None, prefix="", namespace=""):
    """Every URL pattern of the app: (full name, route, kwarg names), skipping admin, auth views and static."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            if entry.app_name == "admin" or entry.namespace == "admin":
                continue
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            module = getattr(entry.callback, "__module__", "") or ""
            if module.startswith(SKIPPED_MODULES):
                continue
            name = f"{namespace}{entry.name}" if entry.name else None
            route = prefix + str(entry.pattern)
            kwargs = tuple(entry.pattern.regex.groupindex)
            yield Route(name, route, tuple(dict.fromkeys(_prefix_kwargs(prefix) + kwargs)), module)


def _prefix_kwargs(prefix):
    from django.urls.resolvers import RoutePattern

    return tuple(RoutePattern(prefix).regex.groupindex) if "<" in prefix else ()


ROUTES = list(walk())


def _cases():
    for route in ROUTES:
        expect = URLS.get(route.name)
        if expect is None:
            continue
        actors = ACTORS + (("staff",) if expect.role == STAFF else ())
        for method in expect.methods:
            for actor in actors:
                yield pytest.param(route, actor, method, id=f"{route.name}-{method}-{actor}")


# --- the world: one project with one member of each role, and an outsider who owns another project -------

@dataclass
class World:
    project: Project
    outsider_project: Project
    users: dict
    _serial: count = field(default_factory=lambda: count(1))

    def __getattr__(self, name):
        users = self.__dict__.get("users", {})
        if name in users:
            return users[name]
        raise AttributeError(name)

    def make_user(self, prefix="user"):
        n = next(self._serial)
        return get_user_model().objects.create_user(f"{prefix}{n}", f"{prefix}{n}@example.org", "password")

    def invitation(self, email=None):
        """A pending invitation to world.project, and its raw token. "Anyone with the link": the matrix checks the
        URL is public to every caller; one bound to its address refuses other accounts (403), which
        tests/projects/test_invitation_binding.py checks."""
        invitation, token = Invitation.new(self.project, email or f"guest{next(self._serial)}@example.org",
                                           Role.VIEWER, self.owner, anyone_with_link=True)
        invitation.save()
        return invitation, token


@pytest.fixture
def world(django_user_model):
    users = {name: django_user_model.objects.create_user(name, f"{name}@example.org", "password")
             for name in ("owner", "editor", "viewer", "outsider")}
    users["staff"] = django_user_model.objects.create_user("staffer", "staffer@example.org", "password",
                                                           is_staff=True)
    project = Project.objects.create(name="Target", created_by=users["owner"])
    for role in (Role.OWNER, Role.EDITOR, Role.VIEWER):
        Membership.objects.create(project=project, user=users[role.value], role=role)
    # the outsider is no stranger to soraweb: they own a project of their own, just not this one
    theirs = Project.objects.create(name="Elsewhere", created_by=users["outsider"])
    Membership.objects.create(project=theirs, user=users["outsider"], role=Role.OWNER)
    return World(project=project, outsider_project=theirs, users=users)


def _kwargs(route, world):
    missing = [name for name in route.kwargs if name not in PARAMS]
    assert not missing, f"No factory for URL kwarg(s) {missing} of {route.name}: add @param(...) in url_expectations"
    return {name: PARAMS[name](world) for name in route.kwargs}


def _client(world, actor):
    client = Client()
    if actor != "anonymous":
        client.force_login(world.users[actor])
    return client


def _request(client, method, url, expect, world):
    if method == "POST":
        data = expect.data(world) if callable(expect.data) else (expect.data or {})
        return client.post(url, data)
    return client.generic(method, url)


def expected(expect, actor):
    """The statuses `actor` must get, or "login" for a redirect to the sign-in page."""
    if actor in expect.status:
        wanted = expect.status[actor]
        return wanted if isinstance(wanted, (tuple, str)) else (wanted,)
    if expect.role == PUBLIC:
        return expect.ok
    if actor == "anonymous":
        return "login"
    if expect.role == LOGIN:
        return expect.ok
    if expect.role == STAFF:
        return expect.ok if actor == "staff" else (403,)
    if actor in ("outsider", "staff"):
        return (404,)
    return expect.ok if RANKS[actor] >= RANKS[expect.role] else (403,)


def _assert_answer(response, wanted, label):
    if wanted == "login":
        login = resolve_url(settings.LOGIN_URL)
        assert response.status_code == 302 and response["Location"].startswith(login), (
            f"{label}: expected a redirect to {login}, got {response.status_code} {response.get('Location', '')}"
        )
    else:
        assert response.status_code in wanted, f"{label}: expected {wanted}, got {response.status_code}"
        if response.status_code == 302:
            assert not response["Location"].startswith(resolve_url(settings.LOGIN_URL)), (
                f"{label}: an allowed request was sent to the sign-in page"
            )


# --- the tests ----------------------------------------------------------------------------------------

def test_every_url_pattern_has_an_expectation():
    unnamed = [route.route for route in ROUTES if route.name is None]
    assert not unnamed, f"Name these URL patterns so the permission matrix can check them: {unnamed}"
    missing = sorted(route.name for route in ROUTES if route.name not in URLS)
    assert not missing, (
        f"URL patterns without a declared expectation: {missing}. Add them to tests/soraweb/url_expectations.py URLS."
    )
    stale = sorted(set(URLS) - {route.name for route in ROUTES})
    assert not stale, f"tests/soraweb/url_expectations.py declares URL names that no longer exist: {stale}"


def test_the_walk_sees_the_apps_urls_and_skips_admin_and_auth():
    names = {route.name for route in ROUTES}
    assert {"project_list", "studio", "healthz", "members", "invitation_accept"} <= names
    assert not any(route.route.startswith(("admin/", "accounts/")) for route in ROUTES)


def test_staff_pages_are_the_staff_apps_pages():
    """Everything staff lives in the staff app: its views are the staff-only patterns, and only they are."""
    staff_only = {route.name for route in ROUTES if URLS.get(route.name) and URLS[route.name].role == STAFF}
    in_staff_app = {route.name for route in ROUTES if route.module.startswith("staff.")}
    assert staff_only == in_staff_app


@pytest.mark.django_db
@pytest.mark.parametrize("route,actor,method", list(_cases()))
def test_matrix(route, actor, method, world):
    expect = URLS[route.name]
    url = reverse(route.name, kwargs=_kwargs(route, world))
    response = _request(_client(world, actor), method, url, expect, world)
    _assert_answer(response, expected(expect, actor), f"{method} {url} as {actor}")


def _actions():
    for route in ROUTES:
        expect = URLS.get(route.name)
        if expect is not None and "GET" not in expect.methods:
            yield pytest.param(route, id=route.name)


@pytest.mark.django_db
@pytest.mark.parametrize("route", list(_actions()))
def test_actions_do_not_act_on_get(route, world):
    """An action URL answers GET with 405, even for the people allowed to POST to it."""
    expect = URLS[route.name]
    actor = "staff" if expect.role == STAFF else ("owner" if expect.role in RANKS else "anonymous")
    url = reverse(route.name, kwargs=_kwargs(route, world))
    response = _client(world, actor).get(url)
    assert response.status_code == expect.get_status, f"GET {url} as {actor}: got {response.status_code}"


def _cross_project_cases():
    for route in ROUTES:
        expect = URLS.get(route.name)
        if expect is None or expect.role not in RANKS or "project_id" not in route.kwargs or len(route.kwargs) < 2:
            continue
        for method in expect.methods:
            yield pytest.param(route, method, id=f"{route.name}-{method}")


@pytest.mark.django_db
@pytest.mark.parametrize("route,method", list(_cross_project_cases()))
def test_objects_are_found_only_in_the_project_of_the_url(route, method, world):
    """The outsider owns their own project: its id with another project's objects must still be 404."""
    expect = URLS[route.name]
    kwargs = {**_kwargs(route, world), "project_id": world.outsider_project.pk}
    url = reverse(route.name, kwargs=kwargs)
    response = _request(_client(world, "outsider"), method, url, expect, world)
    assert response.status_code == 404, f"{method} {url} as the owner of another project: {response.status_code}"


def test_expected_answers_follow_the_role_rules():
    assert expected(URLS["members"], "outsider") == (404,)
    assert expected(URLS["members"], "anonymous") == "login"
    assert expected(URLS["member_role"], "editor") == (403,)
    assert expected(URLS["member_role"], "owner") == (200, 302)
    assert expected(URLS["project_list"], "outsider") == (200, 302)
    assert expected(URLS["webhook"], "anonymous") == (400,)
