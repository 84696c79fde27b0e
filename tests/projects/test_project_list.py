import pytest
from django.core.files.base import ContentFile

from projects import services
from projects.models import Role
from renders.models import Render

pytestmark = [pytest.mark.django_db, pytest.mark.project(description="Spring launch", members={})]


def _render(project, author, status="completed", thumbnail=True, deleted=False):
    render = Render.objects.create(project=project, author=author, prompt="p", model="sora-2", size="1280x720",
                                   seconds=4, status=status)
    if thumbnail:
        render.thumbnail.save("thumbnail.webp", ContentFile(b"webp"), save=False)
    if deleted:
        from django.utils import timezone
        render.deleted_at = timezone.now()
    render.save()
    return render


def test_it_lists_only_my_projects_with_my_role(client, alice, bob, project, add_member):
    add_member(project, bob, Role.VIEWER)
    services.create_project(alice, "Alice alone")
    services.create_project(bob, "Bob's own")
    client.force_login(bob)
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Trailer" in body and "Bob&#x27;s own" in body
    assert "Alice alone" not in body
    assert [c.project.name for c in response.context["active"]] == ["Bob's own", "Trailer"]
    assert {c.project.name: c.role for c in response.context["active"]} == {"Bob's own": "owner", "Trailer": "viewer"}


def test_it_links_each_project_to_its_studio(client, alice, project):
    client.force_login(alice)
    response = client.get("/")
    assert f'href="/projects/{project.pk}/"'.encode() in response.content


def test_it_lists_archived_projects_apart(client, alice, project):
    old = services.create_project(alice, "Old campaign")
    services.archive_project(old)
    client.force_login(alice)
    response = client.get("/")
    assert [c.project.name for c in response.context["active"]] == ["Trailer"]
    assert [c.project.name for c in response.context["archived"]] == ["Old campaign"]
    assert b"Archived" in response.content
    assert f"/projects/{old.pk}/restore/".encode() in response.content


def test_it_counts_members_and_visible_renders(client, alice, bob, project, add_member):
    add_member(project, bob)
    _render(project, alice)
    _render(project, bob, status="in_progress", thumbnail=False)
    _render(project, bob, deleted=True)
    client.force_login(alice)
    card = client.get("/").context["active"][0]
    assert (card.member_count, card.render_count) == (2, 2)


def test_it_shows_the_latest_three_thumbnails(client, alice, project):
    renders = [_render(project, alice) for _ in range(5)]
    _render(project, alice, status="in_progress", thumbnail=False)  # no thumbnail yet: not shown
    client.force_login(alice)
    card = client.get("/").context["active"][0]
    assert [t["id"] for t in card.thumbnails] == [r.pk for r in reversed(renders[2:])]
    assert card.thumbnails[0]["url"] == f"/projects/{project.pk}/renders/{renders[4].pk}/assets/thumbnail"


def test_it_uses_the_same_number_of_queries_for_many_projects_and_renders(client, alice):
    client.force_login(alice)
    one = services.create_project(alice, "One")
    _render(one, alice)
    client.get("/")  # warm up: session, user
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get("/")
    for i in range(8):
        p = services.create_project(alice, f"P{i}")
        for _ in range(4):
            _render(p, alice)
    with CaptureQueriesContext(connection) as many:
        response = client.get("/")
    assert len(response.context["active"]) == 9
    assert len(many.captured_queries) == len(few.captured_queries)


def test_it_shows_an_empty_state_to_a_newcomer(client, charlie):
    client.force_login(charlie)
    response = client.get("/")
    assert b"No projects yet" in response.content
    assert b'href="/projects/new/"' in response.content


def test_it_sends_visitors_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
