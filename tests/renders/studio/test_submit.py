"""POST /projects/<id>/: submit a render. With htmx the new card comes back at the top of the history; without,
POST-redirect-GET. Errors are shown inline and nothing typed is lost; viewers get 403."""

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from quotas.models import Reservation
from renders.models import Render
from renders.states import Status

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]

GOOD = {"prompt": "Wide shot: a red fox trots across fresh snow", "model": "sora-2", "size": "1280x720", "seconds": "8"}


def test_it_submits_and_redirects_back_to_the_page_without_javascript(client, bob, project):
    client.force_login(bob)
    response = client.post(f"/projects/{project.pk}/?status=in_flight", GOOD)
    assert response.status_code == 302 and response["Location"] == f"/projects/{project.pk}/?status=in_flight"
    render = Render.objects.get()
    assert (render.author, render.prompt, render.model, render.size, render.seconds) == (
        bob, GOOD["prompt"], "sora-2", "1280x720", 8)
    assert render.status == Status.SUBMITTING and not render.reference_image
    assert Reservation.objects.get(render=render).state == Reservation.State.HELD
    assert "top of the history" in str(list(get_messages(response.wsgi_request))[0])
    page = client.get(response["Location"])
    assert page.context["listing"].renders[0] == render


def test_with_htmx_it_answers_a_fresh_form_and_the_new_card_at_the_top(client, bob, project, htmx_headers):
    client.force_login(bob)
    response = client.post(f"/projects/{project.pk}/", GOOD, **htmx_headers(f"/projects/{project.pk}/"))
    assert response.status_code == 200
    render = Render.objects.get()
    html = response.content.decode()
    assert html.lstrip().startswith('<form id="submit-form"')
    assert 'hx-swap-oob="afterbegin:#history-list"' in html and f'id="render-{render.pk}"' in html
    assert "history-empty" not in html  # "No renders yet" hides itself (CSS): nothing to delete, no missing target
    assert "{#" not in html and "#}" not in html  # template comments stay comments
    # the page's one in-flight poll is switched on, out of band
    assert 'id="inflight-poll"' in html and 'data-poll="2"' in html and html.count('hx-swap-oob="true"') == 1
    assert "top of the history" in html
    # the form keeps the prompt and the options (to tweak and go again), and shows the quota after the reservation
    form = response.context["form"]
    assert form.initial == {"model": "sora-2", "size": "1280x720", "seconds": 8, "prompt": GOOD["prompt"],
                            "variations": 1}
    assert f'id="id_prompt">\n{GOOD["prompt"]}</textarea>' in html
    # ...and names the new card, for studio.js to bring it into view and focus it
    assert f'data-new-card="render-{render.pk}"' in html
    assert response.context["estimate"].limit("concurrent_renders").used == 1


def test_a_render_the_filters_hide_is_not_inserted_and_the_note_says_so(client, bob, project, htmx_headers):
    client.force_login(bob)
    response = client.post(f"/projects/{project.pk}/", GOOD,
                           **htmx_headers(f"/projects/{project.pk}/?status=completed"))
    html = response.content.decode()
    assert Render.objects.count() == 1
    assert "afterbegin:#history-list" not in html and "Your filters or page hide it" in html
    assert "inflight-poll" not in html  # the page's poll is left as it is


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"prompt": "   "}, "prompt", "Describe the video you want."),
    ({"size": "1792x1024"}, "size", "sora-2 renders only 720x1280, 1280x720."),
    ({"seconds": "5"}, "seconds", "Select a valid choice"),
    ({"model": "sora-3"}, "model", "Select a valid choice"),
    ({"prompt": "x" * 32001}, "prompt", "the most is 32000"),
])
def test_errors_are_shown_inline_and_the_typed_values_stay(client, bob, project, change, field, message,
                                                           htmx_headers):
    client.force_login(bob)
    data = {**GOOD, "prompt": "A lighthouse keeper at dusk, handheld", **change}
    for headers in ({}, htmx_headers(f"/projects/{project.pk}/")):
        response = client.post(f"/projects/{project.pk}/", data, **headers)
        assert response.status_code == 200
        form = response.context["form"]
        assert message in " ".join(form.errors[field])
        html = response.content.decode()
        assert 'aria-invalid="true"' in html
        if field != "prompt":
            assert "A lighthouse keeper at dusk, handheld</textarea>" in html
    assert not Render.objects.exists() and not Reservation.objects.exists()


def test_a_quota_refusal_is_shown_and_the_prompt_stays(client, bob, project, settings, htmx_headers):
    settings.QUOTA_DEFAULT_MONTHLY_SECONDS = 4
    client.force_login(bob)
    response = client.post(f"/projects/{project.pk}/", GOOD, **htmx_headers(f"/projects/{project.pk}/"))
    html = response.content.decode()
    assert "Not enough video seconds left this month" in html and 'class="errorlist nonfield"' in html
    assert f"{GOOD['prompt']}</textarea>" in html
    assert '<option value="8" selected>' in html
    assert not Render.objects.exists()


def test_viewers_get_403_and_nothing_is_created(client, vera, project):
    client.force_login(vera)
    assert client.post(f"/projects/{project.pk}/", GOOD).status_code == 403
    assert not Render.objects.exists()


def test_outsiders_get_404(client, charlie, project):
    client.force_login(charlie)
    assert client.post(f"/projects/{project.pk}/", GOOD).status_code == 404
    assert not Render.objects.exists()


def test_an_archived_project_refuses_submissions(client, alice, project):
    project.archived_at = timezone.now()
    project.save()
    client.force_login(alice)
    assert client.post(f"/projects/{project.pk}/", GOOD).status_code == 403
    assert not Render.objects.exists()
