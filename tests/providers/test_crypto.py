import logging

import pytest
from django.db import connection

from providers import crypto
from providers.models import ApiKey

SECRET = "sk-live-DISTINCTIVE-plaintext-9f8e"
WEBHOOK_SECRET = "whsec_RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c="


def make_key(**fields):
    key = ApiKey(name="prod", base_url="https://api.example.com/v1", **fields)
    key.secret = SECRET
    key.webhook_secret = WEBHOOK_SECRET
    key.save()
    return key


def raw_row(pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM providers_apikey WHERE id = %s", [pk])
        return " ".join(str(value) for value in cursor.fetchone())


@pytest.mark.django_db
def test_it_stores_no_plaintext(settings):
    key = make_key()
    row = raw_row(key.pk)
    assert SECRET not in row
    assert WEBHOOK_SECRET not in row
    assert "RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24" not in row
    assert ApiKey.objects.get(pk=key.pk).secret == SECRET
    assert ApiKey.objects.get(pk=key.pk).webhook_secret == WEBHOOK_SECRET


@pytest.mark.django_db
def test_it_shows_only_the_last_4():
    key = make_key()
    assert key.masked_secret == "••••9f8e"
    assert key.secret_last4 == "9f8e"
    assert key.webhook_secret_last4 == "40c="


@pytest.mark.django_db
def test_it_keeps_the_secret_out_of_repr_str_and_logs(caplog):
    key = make_key()
    caplog.set_level(logging.DEBUG)
    logging.getLogger("test").debug("key %r %s", key, key)
    client = key.client()
    logging.getLogger("test").debug("client %r %s %r", client, client, vars(client))
    client.close()
    for text in (repr(key), str(key), repr(client), str(client), caplog.text):
        assert SECRET not in text
        assert "DISTINCTIVE" not in text
    assert "9f8e" in repr(client)


def test_it_stretches_a_passphrase_into_a_fernet_key(settings):
    settings.FIELD_ENCRYPTION_KEYS = ["not a fernet key, a passphrase"]
    token = crypto.encrypt("hello")
    assert token != "hello" and crypto.decrypt(token) == "hello"
    assert crypto.encrypt("") == "" and crypto.decrypt("") == ""
