"""The staff pages fit a phone: with long key names, base URLs, errors, usernames and audit details, no page is wider
than the 390 px viewport (tables stack, long words wrap), and none has a console error or CSP violation."""

import pytest
from django.utils import timezone

from providers.models import ApiKey, AuditEntry, KeyState
from tests.fixtures.browser import DESKTOP, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_URL = "https://api.apifree.example.com/v1/a/rather/long/path/for/a/regional/endpoint/of/this/provider"


@pytest.fixture
def long_keys():
    keys = []
    for name, state, error in [
        ("Production Apifree primary key for the EU region", KeyState.ACTIVE, ""),
        ("Backup", KeyState.OUT_OF_CREDIT,
         "402 Payment Required: insufficient_quota, top up at https://billing.example.org/account/credits/topup"
         "?reference=abcdefghijklmnopqrstuvwxyz0123456789"),
    ]:
        key = ApiKey(name=name, provider="apifree", base_url=LONG_URL, state=state, last_error=error,
                     last_error_at=timezone.now() if error else None)
        key.secret = "sk-layout-secret-1234"
        key.save()
        keys.append(key)
    for key in keys:
        AuditEntry.objects.create(
            actor_name="alice.with.a.rather.long.username@example-organisation.com", action="key.edited",
            target_type="key", target_id=key.pk, target=key.name,
            detail=f"base_url: https://old.example.com/v1/with/a/long/path → {LONG_URL}; rpm_limit 25 → 60")
    return keys


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_staff_pages_fit_the_viewport(context_factory, staff, long_keys, viewport):
    page = context_factory(staff, viewport=viewport).new_page()
    problems = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    for url in ["/staff/", "/staff/keys/", f"/staff/keys/{long_keys[0].pk}/", f"/staff/keys/{long_keys[1].pk}/",
                "/staff/keys/new/", f"/staff/keys/{long_keys[0].pk}/edit/", "/staff/audit/", "/usage/"]:
        page.goto(url)
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{url} is {width[0] - width[1]} px wider than the viewport"
    assert problems == []
