"""Variations from the studio: the form's "Variations" choice submits a group; the history marks its cards "1 of 3";
GET /projects/<id>/renders/<id>/variations/ shows the group side by side, each with its favourite star, and polls
only the variations still in flight. Any member may look; an outsider gets 404, as on every render page."""

import pytest
from django.utils import timezone

from quotas.models import Reservation, UserAllowance
from renders import actions
from renders.models import Render
from renders.states import Status
from tests.renders.studio.conftest import star

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor", "vera": "viewer"}),
              pytest.mark.key(has_webhooks=True)]

GOOD = {"prompt": "Wide shot: a red fox trots across fresh snow", "model": "sora-2", "size": "1280x720", "seconds": "4"}


@pytest.fixture(autouse=True)
def _known_allowances(quota_defaults):
    """3 renders in flight at most."""


def grid_url(project, render):
    return f"/projects/{project.pk}/renders/{render.pk}/variations/"


def finish(renders):
    Render.objects.filter(pk__in=[r.pk for r in renders]).update(status=Status.COMPLETED, progress=100,
                                                                 completed_at=timezone.now())


def test_the_form_offers_one_to_four_variations_one_chosen(client, bob, project):
    client.force_login(bob)
    html = client.get(f"/projects/{project.pk}/").content.decode()
    assert '<select name="variations"' in html
    for n in range(1, 5):
        assert f'<option value="{n}"' in html
    assert '<option value="1" selected>' in html


def test_submitting_three_variations_makes_a_group_and_answers_its_three_cards(client, bob, project, htmx_headers):
    client.force_login(bob)
    response = client.post(f"/projects/{project.pk}/", {**GOOD, "variations": "3"},
                           **htmx_headers(f"/projects/{project.pk}/"))
    assert response.status_code == 200
    group = list(Render.objects.order_by("variation_number"))
    assert [r.variation_number for r in group] == [1, 2, 3] and len({r.variation_group for r in group}) == 1
    assert Reservation.objects.filter(state="held").count() == 3
    html = response.content.decode()
    for render in group:
        assert f'id="render-{render.pk}"' in html
        assert f'{render.variation_number} of 3<span class="visually-hidden"> variations' in html
        assert f'href="{grid_url(project, render)}"' in html


def test_without_javascript_the_group_is_submitted_and_the_history_marks_it(client, bob, project):
    client.force_login(bob)
    response = client.post(f"/projects/{project.pk}/", {**GOOD, "variations": "2"})
    assert response.status_code == 302
    assert Render.objects.count() == 2
    single = actions.submit(bob, project, prompt="A single shot", model="sora-2", size="1280x720", seconds=4)
    html = client.get(f"/projects/{project.pk}/").content.decode()
    assert html.count('class="raise variation-mark"') == 2
    assert f'href="{grid_url(project, single)}"' not in html


def test_with_room_for_two_three_variations_are_refused_in_plain_words(client, bob, project, htmx_headers):
    UserAllowance.objects.create(user=bob, concurrent_renders=2)
    client.force_login(bob)
    response = client.post(f"/projects/{project.pk}/", {**GOOD, "variations": "3"},
                           **htmx_headers(f"/projects/{project.pk}/"))
    assert response.status_code == 200
    assert "Room for 2 more renders in flight (you may run 2 at once): choose 2 variations or fewer." in (
        response.content.decode())
    assert not Render.objects.exists() and not Reservation.objects.exists()


def test_a_count_not_offered_is_refused_by_the_form(client, bob, project):
    client.force_login(bob)
    response = client.post(f"/projects/{project.pk}/", {**GOOD, "variations": "9"})
    assert response.status_code == 200 and not Render.objects.exists()
    assert "variations" in response.context["form"].errors


def test_the_grid_shows_the_group_side_by_side_with_each_members_stars(client, alice, vera, project,
                                                                       django_assert_max_num_queries):
    group = actions.submit_variations(alice, project, 3, **{**GOOD, "seconds": 4})
    finish(group[:2])
    star(vera, [group[1]])
    client.force_login(vera)
    with django_assert_max_num_queries(12):
        response = client.get(grid_url(project, group[2]))
    assert response.status_code == 200
    html = response.content.decode()
    positions = [html.index(f'id="variation-{r.pk}"') for r in group]
    assert positions == sorted(positions)  # by variation number, whichever one was asked for
    assert "3 variations" in html and html.count('class="inline star-form"') == 3
    assert html.count('aria-pressed="true"') == 1  # vera's own favourite, and only hers
    assert html.count("<video") == 0  # no video stored yet: thumbnails' places, no broken players
    # the one in flight is polled; the finished ones are not asked about again
    assert f'class="variation-inflight-id" name="ids" value="{group[2].pk}"' in html
    assert html.count('class="variation-inflight-id"') == 1 and 'data-poll="3"' in html


def test_the_poll_answers_only_the_cells_it_asks_for_and_stops_when_none_is_in_flight(client, alice, project,
                                                                                       htmx_headers):
    group = actions.submit_variations(alice, project, 2, **{**GOOD, "seconds": 4})
    client.force_login(alice)
    url = grid_url(project, group[0])
    response = client.get(url, {"ids": [group[1].pk]}, **htmx_headers(url))
    html = response.content.decode()
    assert f'id="variation-{group[1].pk}"' in html and f'id="variation-{group[0].pk}"' not in html
    assert 'data-poll="3"' in html
    finish(group)
    html = client.get(url, {"ids": [group[1].pk]}, **htmx_headers(url)).content.decode()
    assert 'id="variations-poll"' in html and "data-poll" not in html  # the poller removes itself
    assert "Completed" in html


def test_a_render_without_variations_shows_alone(client, alice, project):
    render = actions.submit(alice, project, prompt="A single shot", model="sora-2", size="1280x720", seconds=4)
    client.force_login(alice)
    html = client.get(grid_url(project, render)).content.decode()
    assert f'id="variation-{render.pk}"' in html and "submitted on its own" in html


def test_an_outsider_a_deleted_render_and_another_projects_id_get_404(client, alice, charlie, project,
                                                                      other_project):
    group = actions.submit_variations(alice, project, 2, **{**GOOD, "seconds": 4})
    client.force_login(charlie)
    assert client.get(grid_url(project, group[0])).status_code == 404
    elsewhere = actions.submit(charlie, other_project, prompt="Elsewhere", model="sora-2", size="1280x720", seconds=4)
    client.force_login(alice)
    assert client.get(f"/projects/{project.pk}/renders/{elsewhere.pk}/variations/").status_code == 404
    finish(group)
    actions.delete(group[0], alice)
    assert client.get(grid_url(project, group[0])).status_code == 404
    html = client.get(grid_url(project, group[1])).content.decode()
    assert f'id="variation-{group[0].pk}"' not in html and "1 shown, the others were deleted" in html
