"""Prices per key: a key's own price per model and size, else the site's default; a render reserves at the dearest
key that may serve it (the pool picks its key later) and is charged at the price of the key that made it, never
above what it reserved. The charges go through the real pipeline against sorasim over HTTP."""

from decimal import Decimal

import pytest
from django.core.management import call_command

from providers.models import ApiKey, clean_prices
from quotas.models import LedgerEntry, Reservation, UserMonth
from quotas.services import UnknownPrice, billable_ms, cost_cents, price_per_second
from renders import actions, pipeline
from renders.states import Status
from tests.fixtures.waits import step_until
from tests.fixtures.world import submit

pytestmark = pytest.mark.django_db


# --- which price applies -------------------------------------------------------------------------------

def test_a_keys_price_replaces_the_default_for_its_model_and_size_only():
    key = ApiKey(prices={"sora-2-pro": {"1280x720": "0.35"}})
    assert price_per_second("sora-2-pro", "1280x720", key) == Decimal("0.35")
    assert price_per_second("sora-2-pro", "720x1280", key) == Decimal("0.30")  # not set on the key: the default
    assert price_per_second("sora-2-pro", "1280x720") == Decimal("0.30")  # without a key: the default
    assert price_per_second("sora-2-pro", "1280x720", ApiKey()) == Decimal("0.30")


def test_a_price_of_sora_2_is_not_one_of_sora_2_pro():
    # "sora-2-pro" begins with "sora-2-" yet is a model of its own, not a dated alias of sora-2
    key = ApiKey(prices={"sora-2": {"720x1280": "0.05"}})
    assert price_per_second("sora-2-pro", "720x1280", key) == Decimal("0.30")
    assert price_per_second("sora-2", "720x1280", key) == Decimal("0.05")


def test_a_dated_alias_takes_its_own_price_then_its_bases_on_the_key_then_the_default():
    key = ApiKey(prices={"sora-2-pro": {"1792x1024": "0.45"}})
    assert price_per_second("sora-2-pro-2025-10-06", "1792x1024", key) == Decimal("0.45")
    key.prices["sora-2-pro-2025-10-06"] = {"1792x1024": "0.40"}
    assert price_per_second("sora-2-pro-2025-10-06", "1792x1024", key) == Decimal("0.40")
    assert price_per_second("sora-2-pro-2025-10-06", "1024x1792", key) == Decimal("0.50")
    assert price_per_second("sora-2-2025-10-06", "720x1280", key) == Decimal("0.10")


def test_a_key_may_price_what_the_site_has_no_price_for(settings):
    settings.QUOTA_PRICES = {"sora-2": {"720x1280": Decimal("0.10")}}
    key = ApiKey(prices={"sora-2-pro": {"1920x1080": "0.65"}})
    assert price_per_second("sora-2-pro", "1920x1080", key) == Decimal("0.65")
    with pytest.raises(UnknownPrice):
        price_per_second("sora-2-pro", "1920x1080")


OFFERED = {"sora-2": {"sizes": ["720x1280"], "seconds": [4]},
           "sora-2-pro": {"sizes": ["1280x720", "1920x1080"], "seconds": [4]}}


def test_prices_are_kept_as_text_for_what_the_key_offers():
    prices = {"sora-2": {"720x1280": " 0.3"}, "sora-2-pro": {"1280x720": Decimal("0.3125"), "1920x1080": ""},
              "veo-3": {"1280x720": "0.10"}, "sora-2-2": {"1792x1024": "1"}}
    assert clean_prices(prices, OFFERED) == {"sora-2": {"720x1280": "0.30"}, "sora-2-pro": {"1280x720": "0.3125"}}
    assert clean_prices({"sora-2": {"720x1280": "0"}}, OFFERED) == {"sora-2": {"720x1280": "0.00"}}
    assert clean_prices({"sora-2": {"1280x720": "0.2"}}, OFFERED) == {}  # a size the key does not offer


@pytest.mark.parametrize("value", ["-0.01", "0.12345", "abc", "NaN", "1e9", "Infinity"])
def test_a_price_that_is_no_price_is_refused_in_words(value):
    with pytest.raises(ValueError, match="sora-2 at 720x1280: a price in USD per second, 0 or more, with at most 4"):
        clean_prices({"sora-2": {"720x1280": value}}, OFFERED)


# --- reserving at the dearest key ----------------------------------------------------------------------

def reservation(render):
    return Reservation.objects.get(render=render)


def test_a_render_reserves_at_the_dearest_key_that_may_serve_it(alice, project, make_project, make_key):
    make_key("cheap", prices={"sora-2": {"720x1280": "0.08"}})
    # disabled keys count: staff may enable one while the render waits, and the pool would then pick it
    make_key("dear", prices={"sora-2": {"720x1280": "0.25"}}, state="disabled")
    make_key("landscape only", prices={"sora-2": {"1280x720": "0.90"}},
             model_table={"sora-2": {"sizes": ["1280x720"]}})  # cannot serve 720x1280
    elsewhere = make_key("elsewhere", prices={"sora-2": {"720x1280": "0.50"}})
    elsewhere.projects.add(make_project(alice, name="Elsewhere"))  # another project's own key

    render = submit(alice, project, seconds=8)
    assert (reservation(render).price_per_second_usd, reservation(render).cents) == (Decimal("0.25"), 200)
    render.refresh_from_db()
    assert render.cost_estimate_usd == Decimal("2.00")
    um = UserMonth.objects.get(user=alice)
    assert um.spend_reserved_cents == 200
    call_command("check_quotas")


def test_a_project_with_keys_of_its_own_reserves_at_their_prices(alice, project, make_key):
    make_key("pool", prices={"sora-2": {"720x1280": "0.40"}})
    own = make_key("own", prices={"sora-2": {"720x1280": "0.12"}})
    own.projects.add(project)
    render = submit(alice, project)
    assert reservation(render).price_per_second_usd == Decimal("0.12")


def test_without_a_key_a_render_reserves_at_the_default(alice, project):
    render = submit(alice, project, model="sora-2-pro", size="1920x1080", seconds=16)
    assert (reservation(render).price_per_second_usd, reservation(render).cents) == (Decimal("0.70"), 1120)


# --- settling at the serving key's price, through the pipeline against sorasim ---------------------------

def run_to_the_end(render, before_download=None):
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    assert render.status in (Status.QUEUED, Status.IN_PROGRESS), render.status
    step_until(render, {Status.DOWNLOADING}, pipeline.poll)
    if before_download:
        before_download(render)
    pipeline.download(render.pk)
    render.refresh_from_db()
    assert render.status == Status.COMPLETED
    return render


def charge_at(render, price):
    """The delivered seconds (to the tenth, within the reserved ones) at `price`, in USD."""
    return Decimal(cost_cents(price, billable_ms(render.delivered_seconds, render.seconds * 1000))) / 100


def twin(key, name, **fields):
    """Another key on the same sorasim account (sorasim sees one key; soraweb prices them apart)."""
    other = ApiKey(name=name, base_url=key.base_url, rpm_limit=0, max_concurrent=0, **fields)
    other.secret = key.secret
    other.save()
    return other


def test_a_render_is_charged_at_the_price_of_the_key_that_made_it(alice, project, sim_key):
    ApiKey.objects.filter(pk=sim_key.pk).update(prices={"sora-2": {"720x1280": "0.07"}})
    twin(sim_key, "dear", state="disabled", prices={"sora-2": {"720x1280": "0.20"}})
    render = submit(alice, project)
    assert reservation(render).cents == 80  # 4 s at the dear key's $0.20

    render = run_to_the_end(render)
    assert render.api_key_id == sim_key.pk
    assert render.charged_usd == charge_at(render, Decimal("0.07")) < Decimal("0.80")
    settled = LedgerEntry.objects.get(render=render, kind="settle")
    assert settled.spend_used_cents == int(render.charged_usd * 100) and settled.spend_reserved_cents == -80
    assert "at $0.07 a second (sorasim)" in settled.reason
    um = UserMonth.objects.get(user=alice)
    assert (um.spend_used_cents, um.spend_reserved_cents) == (int(render.charged_usd * 100), 0)
    call_command("check_quotas")

    remix = actions.submit(alice, project, prompt="the same fox at night", remix_of=render)
    assert reservation(remix).price_per_second_usd == Decimal("0.07")  # only its parent's key can make it


@pytest.mark.parametrize(("changed_to", "charged_at"), [
    ("0.50", "0.10"),  # raised while in flight: never above the price reserved (the default, $0.10)
    ("0.04", "0.04"),  # lowered while in flight: the key's price at settlement
])
def test_a_price_changed_while_the_render_is_in_flight(alice, project, sim_key, changed_to, charged_at):
    render = submit(alice, project)
    assert reservation(render).price_per_second_usd == Decimal("0.10")

    def change_price(render):
        ApiKey.objects.filter(pk=sim_key.pk).update(prices={"sora-2": {"720x1280": changed_to}})

    render = run_to_the_end(render, before_download=change_price)
    assert render.charged_usd == charge_at(render, Decimal(charged_at))
    assert render.charged_usd <= reservation(render).cost_usd
    call_command("check_quotas")
