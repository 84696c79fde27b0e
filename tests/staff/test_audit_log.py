import pytest
from django.urls import reverse

from providers import audit

pytestmark = pytest.mark.django_db


def test_it_lists_who_changed_what_newest_first(staff_client, staff, key, alice):
    audit.record(alice, "role.changed", "bob in Trailer", "role: editor → viewer", target_type="role")
    audit.record(staff, "key.drained", key, "was active")
    page = staff_client.get(reverse("staff_audit")).content.decode()
    assert page.index("key.drained") < page.index("role.changed")
    assert reverse("staff_key", kwargs={"key_id": key.pk}) in page and "role: editor → viewer" in page


def test_it_filters_by_kind(staff_client, staff, key):
    audit.record(staff, "key.drained", key, "was active")
    audit.record(staff, "allowance.changed", "allowance of bob", "monthly seconds: 300 → 600",
                 target_type="allowance")
    page = staff_client.get(reverse("staff_audit") + "?type=allowance").content.decode()
    assert "allowance.changed" in page and "key.drained" not in page


def test_it_pages_long_logs(staff_client, staff):
    for i in range(55):
        audit.record(staff, "key.tested", f"key {i}", target_type="key")
    first = staff_client.get(reverse("staff_audit")).content.decode()
    second = staff_client.get(reverse("staff_audit") + "?page=2").content.decode()
    assert "Page 1 of 2" in first and "key 54" in first and "key 0<" not in first
    assert "key 0<" in second


def test_non_staff_get_403(client, alice):
    client.force_login(alice)
    assert client.get(reverse("staff_audit")).status_code == 403
