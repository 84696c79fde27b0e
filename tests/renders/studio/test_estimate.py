"""GET /projects/<id>/estimate/: the live estimate of the cost and of the user's remaining quota."""

import pytest

from renders import actions

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]


def get(client, project, **params):
    return client.get(f"/projects/{project.pk}/estimate/", params, HTTP_HX_REQUEST="true")


def test_it_prices_the_options_and_shows_what_remains(client, bob, project, settings):
    settings.QUOTA_DEFAULT_MONTHLY_SECONDS = 300
    settings.QUOTA_DEFAULT_MONTHLY_SPEND_USD = 50
    client.force_login(bob)
    html = get(client, project, model="sora-2-pro", size="1792x1024", seconds="12").content.decode()
    assert html.lstrip().startswith('<div id="estimate"')
    assert "<strong>$6.00</strong>" in html and "$0.50 a second" in html  # 12 s x $0.50
    assert "Video seconds this month: 300 s left of 300 s" in html
    assert "Spend this month: $50.00 left of $50.00" in html
    assert "Renders in flight: 0 of 3<" in html


def test_it_follows_the_quota_as_renders_are_submitted(client, bob, project, settings):
    settings.QUOTA_DEFAULT_MONTHLY_SECONDS = 10
    actions.submit(bob, project, prompt="a fox", model="sora-2", size="720x1280", seconds=8)
    client.force_login(bob)
    html = get(client, project, model="sora-2", size="720x1280", seconds="4").content.decode()
    assert "2 s left of 10 s" in html
    assert "Not enough video seconds left this month" in html and 'class="error"' in html


def test_it_says_when_the_model_cannot_render_the_size(client, bob, project):
    client.force_login(bob)
    html = get(client, project, model="sora-2", size="1792x1024", seconds="4").content.decode()
    assert "sora-2 renders only 720x1280, 1280x720." in html and "$" not in html


def test_viewers_get_403_and_outsiders_404(client, vera, charlie, project):
    client.force_login(vera)
    assert get(client, project, model="sora-2", size="720x1280", seconds="4").status_code == 403
    client.force_login(charlie)
    assert get(client, project, model="sora-2", size="720x1280", seconds="4").status_code == 404


def test_it_shows_what_submit_reserves_up_to_the_dearest_key(client, bob, project, make_key):
    make_key("cheap", prices={"sora-2-pro": {"1792x1024": "0.40"}})
    make_key("dear", prices={"sora-2-pro": {"1792x1024": "0.5625"}})
    client.force_login(bob)
    html = get(client, project, model="sora-2-pro", size="1792x1024", seconds="8").content.decode()
    assert "<strong>up to $4.50</strong>" in html  # 8 s x $0.5625, the dearest key's price
    assert "$0.40 to $0.5625 a second depending on the key that makes it" in html
    render = actions.submit(bob, project, prompt="a fox", model="sora-2-pro", size="1792x1024", seconds=8)
    assert str(render.cost_estimate_usd) == "4.50"

    html = get(client, project, model="sora-2-pro", size="1792x1024", seconds="8", variations="2").content.decode()
    assert "<strong>up to $9.00</strong>" in html and "up to $4.50 each" in html


def test_keys_of_one_price_give_a_plain_cost(client, bob, project, make_key):
    make_key("a", prices={"sora-2": {"720x1280": "0.12"}})
    make_key("b", prices={"sora-2": {"720x1280": "0.12"}})
    client.force_login(bob)
    html = get(client, project, model="sora-2", size="720x1280", seconds="4").content.decode()
    assert "<strong>$0.48</strong>" in html and "($0.12 a second)" in html and "up to" not in html
