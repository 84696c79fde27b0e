""""Use this prompt" on a card: without JavaScript a link to the studio with `?use=<render id>`, whose form comes back
filled with that render's prompt, model, size and length (studio.js fills the form in place instead)."""

import pytest

from renders.models import Render
from tests.renders.studio.conftest import make_renders

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]


def test_the_link_fills_the_form_with_the_renders_prompt_and_options(client, alice, bob, project):
    render, = make_renders(project, [bob], 1, model="sora-2-pro", size="1792x1024", seconds=12,
                           prompt="A hummingbird hovers at a red flower, macro")
    client.force_login(alice)
    page = client.get(f"/projects/{project.pk}/").content.decode()
    assert f'href="/projects/{project.pk}/?use={render.pk}#submit-title"' in page

    response = client.get(f"/projects/{project.pk}/", {"use": render.pk})
    assert response.context["form"].initial == {"prompt": render.prompt, "model": "sora-2-pro", "size": "1792x1024",
                                                "seconds": 12}
    assert "$6.00" in response.content.decode()  # the estimate is for those options


@pytest.mark.parametrize("use", ["999999", "abc", ""])
def test_an_unknown_render_leaves_the_form_as_usual(client, alice, project, use):
    client.force_login(alice)
    response = client.get(f"/projects/{project.pk}/", {"use": use})
    assert "prompt" not in response.context["form"].initial


def test_another_projects_render_is_not_used(client, alice, project, make_project, charlie):
    elsewhere = make_project(charlie, "Elsewhere")
    secret, = make_renders(elsewhere, [charlie], 1, prompt="charlie's secret idea")
    client.force_login(alice)
    response = client.get(f"/projects/{project.pk}/", {"use": secret.pk})
    assert "charlie's secret idea" not in response.content.decode()


def test_a_deleted_render_is_not_used(client, alice, project):
    render, = make_renders(project, [alice], 1, prompt="a deleted idea")
    Render.objects.filter(pk=render.pk).update(deleted_at=render.created_at)
    client.force_login(alice)
    assert "a deleted idea" not in client.get(f"/projects/{project.pk}/", {"use": render.pk}).content.decode()


def test_a_viewer_is_offered_no_prompt_to_use(client, alice, vera, project):
    make_renders(project, [alice], 1)
    client.force_login(vera)
    assert "Use this prompt" not in client.get(f"/projects/{project.pk}/").content.decode()
