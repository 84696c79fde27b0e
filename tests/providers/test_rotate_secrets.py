import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from providers.models import ApiKey
from tests.providers.test_crypto import SECRET, WEBHOOK_SECRET, make_key, raw_row


@pytest.mark.django_db
def test_it_rotates_to_the_newest_key(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    key = make_key()
    before = ApiKey.objects.values_list("secret_encrypted", "webhook_secret_encrypted").get(pk=key.pk)

    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_secrets", stdout=(out := io.StringIO()))
    assert "2 secrets re-encrypted" in out.getvalue()
    after = ApiKey.objects.values_list("secret_encrypted", "webhook_secret_encrypted").get(pk=key.pk)
    assert after[0] != before[0] and after[1] != before[1]

    # the old key is gone from the settings: everything still decrypts
    settings.FIELD_ENCRYPTION_KEYS = [new]
    key = ApiKey.objects.get(pk=key.pk)
    assert key.secret == SECRET
    assert key.webhook_secret == WEBHOOK_SECRET
    assert SECRET not in raw_row(key.pk)


@pytest.mark.django_db
def test_it_rotates_only_what_is_not_current(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    make_key()
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    make_key()  # written with the newest key already
    out = io.StringIO()
    call_command("rotate_secrets", stdout=out)
    assert "2 secrets re-encrypted with the newest key, 2 already current" in out.getvalue()
    out = io.StringIO()
    call_command("rotate_secrets", stdout=out)
    assert "0 secrets re-encrypted with the newest key, 4 already current" in out.getvalue()


@pytest.mark.django_db
def test_it_fails_loudly_when_the_old_key_was_removed_too_early(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    key = make_key()
    settings.FIELD_ENCRYPTION_KEYS = [new]
    with pytest.raises(Exception, match="no key in FIELD_ENCRYPTION_KEYS decrypts: prod"):
        call_command("rotate_secrets", stdout=io.StringIO())
    with pytest.raises(ValueError, match="cannot be decrypted"):
        _ = ApiKey.objects.get(pk=key.pk).secret
