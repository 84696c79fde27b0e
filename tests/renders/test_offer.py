"""What the studio offers: the model, size and length choices are what the project's keys can render (the union of
their profiles, ApiKey.offered_models), a choice no key offers is refused naming what is possible, the key pool
gives a render only to a key that offers it, and the grown surface (16 s, 20 s, 1080p on sora-2-pro) is priced."""

import json
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from providers import limiter
from providers.models import KeyState
from quotas import services as quotas
from quotas.models import Reservation
from renders import actions, keypool
from renders.models import Render
from renders.states import Status
from tests.fixtures.world import submit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quota_defaults")]

SORA_2_ONLY = {"sora-2": {"sizes": ["1280x720"], "seconds": [4, 8]}}
PRO_1080P = {"sora-2-pro": {"sizes": ["1920x1080", "1080x1920"], "seconds": [16, 20]}}
GOOD = {"prompt": "Wide shot: a red fox trots across fresh snow", "model": "sora-2", "size": "1280x720", "seconds": "8"}


def options(html, name):
    """The values of the studio form's select `name`, in order."""
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return re.findall(r'<option value="([^"]*)"', select)


def attribute(html, name):
    return json.loads(re.search(rf'{name}="([^"]*)"', html).group(1).replace("&quot;", '"'))


def studio(client, user, project):
    client.force_login(user)
    response = client.get(f"/projects/{project.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def post(client, user, project, **changes):
    client.force_login(user)
    return client.post(f"/projects/{project.pk}/", {**GOOD, **changes}, HTTP_HX_REQUEST="true").content.decode()


# --- prices of the grown surface ----------------------------------------------------------------------


@pytest.mark.parametrize("size", ["1920x1080", "1080x1920"])
def test_1080p_on_sora_2_pro_costs_70_cents_a_second(size):
    assert quotas.price_per_second("sora-2-pro", size) == Decimal("0.70")
    assert quotas.price_per_second("sora-2-pro-2025-10-06", size) == Decimal("0.70")
    with pytest.raises(quotas.UnknownPrice):
        quotas.price_per_second("sora-2", size)


@pytest.mark.parametrize(
    ("model", "size", "seconds", "cents"),
    [
        ("sora-2", "720x1280", 16, 160),
        ("sora-2", "1280x720", 20, 200),
        ("sora-2-pro", "1792x1024", 16, 800),
        ("sora-2-pro", "1920x1080", 16, 1120),
        ("sora-2-pro", "1080x1920", 20, 1400),
    ],
)
def test_16_and_20_seconds_reserve_seconds_times_the_rate(alice, project, model, size, seconds, cents):
    render = submit(alice, project, model=model, size=size, seconds=seconds)
    reservation = Reservation.objects.get(render=render)
    assert (reservation.seconds_ms, reservation.cents) == (seconds * 1000, cents)


def test_the_live_estimate_prices_a_20_second_1080p_render(client, bob, project):
    client.force_login(bob)
    html = client.get(
        f"/projects/{project.pk}/estimate/",
        {"model": "sora-2-pro", "size": "1080x1920", "seconds": "20"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "<strong>$14.00</strong>" in html and "$0.70 a second" in html
    assert "Video seconds this month: 300 s left of 300 s" in html


# --- the studio's choices ---------------------------------------------------------------------------------


def test_without_a_key_the_studio_offers_everything_the_settings_allow(client, alice, project):
    html = studio(client, alice, project)
    assert options(html, "model") == ["sora-2", "sora-2-pro"]
    assert options(html, "size") == ["720x1280", "1280x720", "1024x1792", "1792x1024", "1920x1080", "1080x1920"]
    assert options(html, "seconds") == ["4", "8", "12", "16", "20"]
    assert attribute(html, "data-sizes")["sora-2-pro"][-2:] == ["1920x1080", "1080x1920"]
    assert attribute(html, "data-lengths")["sora-2"]["720x1280"] == [4, 8, 12, 16, 20]


def test_the_studio_offers_the_union_of_what_the_keys_offer(client, alice, project, make_key):
    make_key("sora-2 gateway", model_table=SORA_2_ONLY)
    make_key("1080p gateway", model_table=PRO_1080P)
    html = studio(client, alice, project)
    assert options(html, "model") == ["sora-2", "sora-2-pro"]
    assert options(html, "size") == ["1280x720", "1920x1080", "1080x1920"]
    assert options(html, "seconds") == ["4", "8", "16", "20"]
    assert attribute(html, "data-sizes") == {"sora-2": ["1280x720"], "sora-2-pro": ["1920x1080", "1080x1920"]}
    assert attribute(html, "data-lengths") == {
        "sora-2": {"1280x720": [4, 8]},
        "sora-2-pro": {"1920x1080": [16, 20], "1080x1920": [16, 20]},
    }
    # the form starts on what the keys offer
    assert re.search(r'<option value="1280x720"[^>]*selected', html)


def test_a_project_with_its_own_keys_offers_only_theirs(client, alice, project, make_project, make_key):
    make_key("default pool", model_table=PRO_1080P)
    own = make_key("the project's", model_table=SORA_2_ONLY)
    own.projects.add(project)
    other = make_project(alice, name="Other")
    assert options(studio(client, alice, project), "model") == ["sora-2"]
    assert options(studio(client, alice, other), "model") == ["sora-2-pro"]


def test_keys_taken_out_of_service_offer_nothing_but_broken_ones_still_do(client, alice, project, make_key):
    make_key("sora-2 gateway", model_table=SORA_2_ONLY, state=KeyState.OUT_OF_CREDIT)
    pro = make_key("1080p gateway", model_table=PRO_1080P)
    pro.disable()
    assert options(studio(client, alice, project), "model") == ["sora-2"]  # a render waits for the top-up
    pro.reactivate()
    pro.drain()
    assert options(studio(client, alice, project), "model") == ["sora-2"]


def test_an_empty_profile_offers_everything_the_settings_allow(make_key, project):
    make_key("plain")
    make_key("narrow", model_table=SORA_2_ONLY)
    offer = keypool.offer(project.pk)
    assert offer.keyed and offer.seconds("sora-2-pro", "1920x1080") == [4, 8, 12, 16, 20]


# --- refusals -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"model": "sora-2-pro", "size": "1920x1080"},
            "sora-2-pro at 1920x1080 renders only 16, 20 seconds with this project&#x27;s keys.",
        ),
        (
            {"model": "sora-2-pro", "seconds": "16"},
            "sora-2-pro renders only 1920x1080, 1080x1920 with this project&#x27;s keys.",
        ),
        ({"size": "1920x1080"}, "sora-2 renders only 1280x720 with this project&#x27;s keys."),
        ({"seconds": "16"}, "sora-2 at 1280x720 renders only 4, 8 seconds with this project&#x27;s keys."),
        ({"seconds": "12"}, "Select a valid choice with this project&#x27;s keys: 4, 8, 16, 20."),
        ({"size": "720x1280"}, "Select a valid choice with this project&#x27;s keys: 1280x720, 1920x1080, 1080x1920."),
    ],
)
def test_a_choice_no_key_offers_is_refused_naming_what_is_possible(client, alice, project, make_key, changes, message):
    make_key("sora-2 gateway", model_table=SORA_2_ONLY)
    make_key("1080p gateway", model_table=PRO_1080P)
    html = post(client, alice, project, **changes)
    assert message in html
    assert not Render.objects.exists()


def test_a_model_no_key_offers_is_refused(client, alice, project, make_key):
    make_key("1080p gateway", model_table=PRO_1080P)
    html = post(client, alice, project)  # sora-2
    assert "Select a valid choice with this project&#x27;s keys: sora-2-pro." in html
    assert not Render.objects.exists()


def test_a_choice_a_key_offers_is_submitted(client, alice, project, make_key):
    make_key("sora-2 gateway", model_table=SORA_2_ONLY)
    make_key("1080p gateway", model_table=PRO_1080P)
    post(client, alice, project, model="sora-2-pro", size="1080x1920", seconds="20")
    render = Render.objects.get()
    assert (render.model, render.size, render.seconds) == ("sora-2-pro", "1080x1920", 20)


def test_the_submit_service_refuses_it_too_and_a_remix_keeps_its_parent(alice, project, make_key, make_render):
    key = make_key("sora-2 gateway", model_table=SORA_2_ONLY, can_remix_endpoint=True)
    with pytest.raises(ValidationError) as refused:
        submit(alice, project, model="sora-2", size="1280x720", seconds=12)
    assert refused.value.message_dict == {
        "seconds": ["sora-2 at 1280x720 renders only 4, 8 seconds with this project's keys."]
    }
    # the parent was made before the profile narrowed: its remix goes to its key as before
    parent = make_render(
        Status.COMPLETED, model="sora-2", size="720x1280", seconds=12, api_key=key, provider_video_id="video_1"
    )
    remix = actions.submit(alice, project, prompt="now at night", remix_of=parent)
    assert keypool.pool_for(remix) == [key]


def test_the_estimate_names_what_the_keys_offer(client, alice, project, make_key):
    make_key("sora-2 gateway", model_table=SORA_2_ONLY)
    client.force_login(alice)
    html = client.get(
        f"/projects/{project.pk}/estimate/",
        {"model": "sora-2", "size": "720x1280", "seconds": "4"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "sora-2 renders only 1280x720 with this project&#x27;s keys." in html and "$" not in html


# --- the key pool -----------------------------------------------------------------------------------------


def test_a_render_goes_to_a_key_that_offers_it(make_key, make_render):
    narrow = make_key("sora-2 gateway", model_table=SORA_2_ONLY)
    wide = make_key("1080p gateway", model_table=PRO_1080P)
    for _ in range(3):  # the least busy key comes first, yet never the one that cannot render it
        choice = keypool.choose_key(make_render(model="sora-2-pro", size="1920x1080", seconds=16))
        assert choice.key == wide
    assert limiter.jobs_in_flight(narrow.pk) == 0
    assert keypool.choose_key(make_render(model="sora-2", size="1280x720", seconds=8)).key == narrow


def test_a_render_no_key_offers_waits_saying_why(make_key, make_render):
    make_key("sora-2 gateway", model_table=SORA_2_ONLY)
    choice = keypool.choose_key(make_render(model="sora-2", size="1280x720", seconds=20))
    assert choice.key is None and choice.wait > 0
    assert choice.reason == "No provider key of this project renders sora-2 at 1280x720 for 20 s."


def test_served_by_and_pool_for_agree_on_every_render(alice, project, make_project, make_key, make_render):
    """The two forms of the rule (a query over renders for one key; the keys of one render) give the same pairs."""
    other = make_project(alice, name="Other")
    keys = [
        make_key("plain"),
        make_key("sora-2 gateway", model_table=SORA_2_ONLY),
        make_key("1080p gateway", model_table=PRO_1080P),
        make_key("own", model_table={"sora-2": {"seconds": [20]}}),
    ]
    keys[3].projects.add(other)
    renders = [
        make_render(Status.WAITING, project=where, model=model, size=size, seconds=seconds)
        for where in (project, other)
        for model, size in (("sora-2", "1280x720"), ("sora-2", "720x1280"), ("sora-2-pro", "1920x1080"))
        for seconds in (4, 8, 16, 20)
    ]
    by_render = {(render.pk, key.pk) for render in renders for key in keypool.pool_for(render)}
    by_key = {
        (pk, key.pk)
        for key in keys
        for pk in Render.objects.filter(keypool.served_by(key)).values_list("pk", flat=True)
    }
    assert by_render == by_key
    assert (renders[3].pk, keys[2].pk) not in by_key  # sora-2 at 20 s: not the 1080p gateway
    in_other = {render.pk for render in renders if render.project == other}
    assert {key for pk, key in by_key if pk in in_other} == {keys[3].pk}  # its own key, and only at 20 s
    assert {pk for pk, _ in by_key} & in_other == {
        r.pk for r in renders if r.project == other and r.seconds == 20 and r.model == "sora-2"
    }


def test_a_key_wakes_only_the_renders_it_offers(make_key, make_render):
    key = make_key("sora-2 gateway", model_table=SORA_2_ONLY)
    mine = make_render(Status.WAITING, model="sora-2", size="1280x720", seconds=8)
    make_render(Status.WAITING, model="sora-2-pro", size="1920x1080", seconds=16)
    assert keypool.waiting_render_count(key) == 1
    assert list(Render.objects.filter(keypool.served_by(key))) == [mine]
