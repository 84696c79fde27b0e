"""POST /projects/<id>/renders/<rid>/favourite/: a per-user star; htmx gets the star back, a plain post goes back."""

import pytest
from django.utils import timezone

from renders.models import Favourite, Render
from tests.renders.studio.conftest import make_renders

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]


def url(render):
    return f"/projects/{render.project_id}/renders/{render.pk}/favourite/"


def test_it_stars_and_unstars_with_htmx(client, alice, bob, project):
    (render,) = make_renders(project, [bob], 1)
    client.force_login(alice)
    response = client.post(url(render), {"favourite": "1"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<form class="inline star-form"') and 'aria-pressed="true"' in html
    assert 'name="favourite" value="0"' in html  # the next press unstars
    assert Favourite.objects.filter(user=alice, render=render).count() == 1
    response = client.post(url(render), {"favourite": "0"}, HTTP_HX_REQUEST="true")
    assert 'aria-pressed="false"' in response.content.decode()
    assert not Favourite.objects.exists()


def test_setting_the_same_state_twice_changes_nothing_more(client, alice, project):
    (render,) = make_renders(project, [alice], 1)
    client.force_login(alice)
    client.post(url(render), {"favourite": "1"})
    client.post(url(render), {"favourite": "1"})
    assert Favourite.objects.filter(user=alice, render=render).count() == 1


def test_without_a_value_it_toggles(client, alice, project):
    (render,) = make_renders(project, [alice], 1)
    client.force_login(alice)
    client.post(url(render))
    assert Favourite.objects.filter(user=alice, render=render).exists()
    client.post(url(render))
    assert not Favourite.objects.exists()


def test_a_plain_post_goes_back_to_the_page_it_came_from(client, alice, project):
    (render,) = make_renders(project, [alice], 1)
    client.force_login(alice)
    back = f"/projects/{project.pk}/?status=completed"
    response = client.post(url(render), {"favourite": "1", "next": back})
    assert response.status_code == 302 and response["Location"] == back
    response = client.post(url(render), {"favourite": "1", "next": "https://evil.example/"})
    assert response["Location"] == f"/projects/{project.pk}/"


def test_stars_are_personal_and_viewers_may_star(client, vera, alice, project):
    (render,) = make_renders(project, [alice], 1)
    client.force_login(vera)
    client.post(url(render), {"favourite": "1"})
    client.force_login(alice)
    page = client.get(f"/projects/{project.pk}/")
    assert page.context["listing"].renders[0].is_favourite is False
    assert list(Favourite.objects.values_list("user__username", flat=True)) == ["vera"]


def test_outsiders_and_other_projects_get_404(client, charlie, alice, project, other_project):
    (render,) = make_renders(project, [alice], 1)
    client.force_login(charlie)
    assert client.post(url(render), {"favourite": "1"}).status_code == 404
    # the outsider's own project id with this project's render: still not found
    assert client.post(f"/projects/{other_project.pk}/renders/{render.pk}/favourite/").status_code == 404
    assert not Favourite.objects.exists()


def test_a_deleted_render_cannot_be_starred(client, alice, project):
    (render,) = make_renders(project, [alice], 1)
    Render.objects.filter(pk=render.pk).update(deleted_at=timezone.now())
    client.force_login(alice)
    assert client.post(url(render), {"favourite": "1"}).status_code == 404
