"""One wording for "how long ago" on every render page: the cards' "just now" for the first minute (never Django's
"0 minutes ago"), then "5 min ago", "3 h ago"."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.renders.studio.conftest import make_renders

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor"})]


def test_the_render_page_and_its_card_say_just_now_for_a_fresh_render(client, alice, project):
    render, = make_renders(project, [alice], 1)
    client.force_login(alice)
    page = client.get(f"/projects/{project.pk}/renders/{render.pk}/").content.decode()
    studio = client.get(f"/projects/{project.pk}/").content.decode()
    assert "just now</time>" in page and "just now</time>" in studio
    assert "0\xa0minutes" not in page and "0 minutes" not in page


@pytest.mark.parametrize(("age", "words"), [(timedelta(minutes=5), "5 min ago"), (timedelta(hours=3), "3 h ago")])
def test_older_renders_say_how_long_ago_as_the_cards_do(client, alice, project, age, words):
    render, = make_renders(project, [alice], 1, created_at=timezone.now() - age)
    client.force_login(alice)
    page = client.get(f"/projects/{project.pk}/renders/{render.pk}/").content.decode()
    assert f"{words}</time>" in page
