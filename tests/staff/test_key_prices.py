"""Staff set a key's price per second for each model and size it offers, on the key's edit page (blank: the site's
default, shown as the placeholder); the key's page lists them; every change is in the audit log."""

import json
import re

import pytest
from django.urls import reverse

from providers.audit import AuditEntry
from providers.models import ApiKey
from tests.staff.conftest import key_form

pytestmark = [pytest.mark.django_db, pytest.mark.key(model_table={"sora-2-pro": {"sizes": ["1280x720", "1920x1080"]}})]


def edit_url(key):
    return reverse("staff_key_edit", kwargs={"key_id": key.pk})


def edit(client, key, **prices):
    """The edit form as the page posts it, every field as it is, with `prices` ({"<model>__<size>": "0.35"})."""
    data = key_form(name=key.name, provider=key.provider, base_url=key.base_url, secret="", webhook_secret="",
                    rpm_limit=key.rpm_limit, max_concurrent=key.max_concurrent, model_table=_json(key.model_table),
                    has_webhooks="on" if key.has_webhooks else None)
    data.update({f"price-{name}": value for name, value in prices.items()})
    return client.post(edit_url(key), data)


def _json(value):
    return json.dumps(value) if value else ""


def price_input(html, model, size):
    tag = re.search(rf'<input[^>]*name="price-{re.escape(model)}__{size}"[^>]*>', html)
    assert tag, (model, size)
    return tag.group(0)


def test_the_edit_page_has_a_row_per_model_and_size_the_key_offers(staff_client, key):
    key.prices = {"sora-2-pro": {"1280x720": "0.35"}}
    key.save()
    html = staff_client.get(edit_url(key)).content.decode()
    rows = re.findall(r'name="price-([^"]+)"', html)
    assert rows == ["sora-2-pro__1280x720", "sora-2-pro__1920x1080"]  # not sora-2: the key does not offer it
    assert 'value="0.35"' in price_input(html, "sora-2-pro", "1280x720")
    assert 'placeholder="0.30"' in price_input(html, "sora-2-pro", "1280x720")
    assert 'placeholder="0.70"' in price_input(html, "sora-2-pro", "1920x1080")
    assert "value=" not in price_input(html, "sora-2-pro", "1920x1080")
    assert '<label class="visually-hidden" for="id_price-sora-2-pro__1920x1080">sora-2-pro at 1920x1080</label>' in html


def test_staff_set_and_clear_prices_and_the_audit_log_says_which(staff_client, staff, key):
    response = edit(staff_client, key, **{"sora-2-pro__1280x720": "0.35", "sora-2-pro__1920x1080": ""})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.prices == {"sora-2-pro": {"1280x720": "0.35"}}
    entry = AuditEntry.objects.get(action="key.changed", target_id=key.pk)
    assert (entry.actor, entry.detail) == (staff, "price of sora-2-pro at 1280x720: default → $0.35 a second")

    edit(staff_client, key, **{"sora-2-pro__1280x720": "", "sora-2-pro__1920x1080": "0.6"})
    key.refresh_from_db()
    assert key.prices == {"sora-2-pro": {"1920x1080": "0.60"}}
    latest = AuditEntry.objects.filter(action="key.changed", target_id=key.pk).first()
    assert latest.detail == ("price of sora-2-pro at 1280x720: $0.35 a second → default; "
                             "price of sora-2-pro at 1920x1080: default → $0.60 a second")

    page = staff_client.get(reverse("staff_key", kwargs={"key_id": key.pk})).content.decode()
    prices = re.search(r"<dd data-prices>.*?</dd>", page, re.S).group(0)
    assert 'sora-2-pro 1280x720: $0.30 <span class="muted small-text">(default)' in prices
    assert "sora-2-pro 1920x1080: <strong>$0.60</strong>" in prices


@pytest.mark.parametrize(("value", "words"), [
    ("-0.10", "A price cannot be negative: 0 or more."),
    ("0.12345", "At most 4 decimal places, e.g. 0.3125."),
    ("cheap", "Enter a price in USD per second, e.g. 0.35, or leave it empty for the default."),
    ("1000000", "Less than $1,000,000 a second."),
])
def test_a_price_that_is_no_price_is_refused_in_words(staff_client, key, value, words):
    response = edit(staff_client, key, **{"sora-2-pro__1280x720": value})
    assert response.status_code == 400
    html = response.content.decode()
    assert f"sora-2-pro at 1280x720: {words}" in html
    assert 'aria-invalid="true"' in price_input(html, "sora-2-pro", "1280x720")
    key.refresh_from_db()
    assert key.prices == {}
    assert not AuditEntry.objects.filter(action="key.changed", target_id=key.pk).exists()


def test_a_price_for_a_model_the_key_does_not_offer_is_ignored(staff_client, key):
    response = edit(staff_client, key, **{"sora-2__720x1280": "0.01", "sora-2-pro__1792x1024": "0.01",
                                          "sora-2-pro__1280x720": "0.31"})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.prices == {"sora-2-pro": {"1280x720": "0.31"}}


def test_a_post_without_the_price_table_keeps_the_prices(staff_client, key):
    key.prices = {"sora-2-pro": {"1280x720": "0.35"}}
    key.save()
    assert edit(staff_client, key).status_code == 302  # e.g. a script that knows only the other fields
    key.refresh_from_db()
    assert key.prices == {"sora-2-pro": {"1280x720": "0.35"}}


def test_prices_of_sizes_the_key_no_longer_offers_are_dropped(staff_client, key):
    ApiKey.objects.filter(pk=key.pk).update(prices={"sora-2-pro": {"1280x720": "0.35", "1920x1080": "0.65"}})
    key.refresh_from_db()
    key.model_table = {"sora-2-pro": {"sizes": ["1280x720"]}}  # what the form posts: fewer sizes
    response = edit(staff_client, key, **{"sora-2-pro__1280x720": "0.35", "sora-2-pro__1920x1080": "0.65"})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.prices == {"sora-2-pro": {"1280x720": "0.35"}}
    entry = AuditEntry.objects.get(action="key.changed", target_id=key.pk)
    assert "price of sora-2-pro at 1920x1080: $0.65 a second → default" in entry.detail


def test_a_key_is_added_with_its_prices(staff_client):
    html = staff_client.get(reverse("staff_key_add")).content.decode()
    assert 'placeholder="0.10"' in price_input(html, "sora-2", "720x1280")  # a new key offers everything
    response = staff_client.post(reverse("staff_key_add"), key_form(**{"price-sora-2__720x1280": "0.09"}))
    assert response.status_code == 302
    key = ApiKey.objects.get()
    assert key.prices == {"sora-2": {"720x1280": "0.09"}}
    entry = AuditEntry.objects.get(action="key.added", target_id=key.pk)
    assert entry.detail.endswith("; price of sora-2 at 720x1280: default → $0.09 a second")
