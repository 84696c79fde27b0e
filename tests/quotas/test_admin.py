from decimal import Decimal

import pytest
from django.urls import reverse

from quotas import services
from quotas.models import LedgerEntry, ProjectBudget, UserAllowance

pytestmark = [pytest.mark.django_db, pytest.mark.project(name="Launch film")]


@pytest.fixture
def admin_client(client, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.org", "password")
    client.force_login(root)
    return client


@pytest.mark.parametrize("model", ["userallowance", "projectbudget", "ledgerentry", "reservation", "usermonth",
                                   "projectmonth", "userslots"])
def test_every_quota_list_opens(admin_client, alice, reserve_render, model):
    reserve_render(alice)
    response = admin_client.get(reverse(f"admin:quotas_{model}_changelist"))
    assert response.status_code == 200


def test_an_allowance_override_set_in_the_admin_applies_at_once(admin_client, alice, reserve_render):
    response = admin_client.post(reverse("admin:quotas_userallowance_add"), {
        "user": alice.pk, "monthly_seconds": "8", "monthly_spend_usd": "", "concurrent_renders": "",
    })
    assert response.status_code == 302
    row = UserAllowance.objects.get(user=alice)
    assert (row.monthly_seconds, row.monthly_spend_usd, row.concurrent_renders) == (8, None, None)
    reserve_render(alice, seconds=8)
    with pytest.raises(services.QuotaExceeded):
        reserve_render(alice, seconds=4)
    page = admin_client.get(reverse("admin:quotas_userallowance_change", args=[row.pk]))
    assert "0 s left of 8 s" in page.text


def test_a_project_budget_set_in_the_admin_applies(admin_client, alice, project, reserve_render):
    response = admin_client.post(reverse("admin:quotas_projectbudget_add"), {
        "project": project.pk, "monthly_budget_usd": "0.50"})
    assert response.status_code == 302
    assert ProjectBudget.objects.get(project=project).monthly_budget_usd == Decimal("0.50")
    reserve_render(alice, seconds=4)
    with pytest.raises(services.QuotaExceeded, match="budget of project"):
        reserve_render(alice, seconds=4)


def test_the_ledger_is_read_only(admin_client, alice, reserve_render):
    reserve_render(alice)
    entry = LedgerEntry.objects.get()
    assert admin_client.get(reverse("admin:quotas_ledgerentry_add")).status_code == 403
    assert admin_client.get(reverse("admin:quotas_ledgerentry_delete", args=[entry.pk])).status_code == 403
    page = admin_client.get(reverse("admin:quotas_ledgerentry_change", args=[entry.pk]))
    assert page.status_code == 200 and 'name="_save"' not in page.text
    admin_client.post(reverse("admin:quotas_ledgerentry_change", args=[entry.pk]), {"seconds_reserved_ms": "0"})
    entry.refresh_from_db()
    assert entry.seconds_reserved_ms == 4000
