"""The audit log records who changed which key, allowance, budget or role, and when, whatever page or code made
the change: the staff pages, the Django admin, the projects' member pages (projects.services), a command."""

import pytest
from django.urls import reverse

from projects import services as projects
from projects.models import Membership, Role
from providers import audit
from providers.audit import AuditEntry
from quotas.models import ProjectBudget, UserAllowance

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.org", "password")


def test_a_role_changed_on_the_members_page_names_the_owner_who_changed_it(client, alice, bob, project):
    member = Membership.objects.get(project=project, user=bob)
    client.force_login(alice)
    client.post(reverse("member_role", kwargs={"project_id": project.pk, "membership_id": member.pk}),
                {"role": "viewer"})
    entry = AuditEntry.objects.get(action="role.changed")
    assert entry.actor == alice and entry.actor_name == "alice"
    assert entry.target == "bob in Trailer" and entry.detail == "role: editor → viewer"
    assert entry.target_type == "role" and entry.target_id == member.pk


def test_members_added_and_removed_are_recorded(client, alice, charlie, project):
    client.force_login(alice)
    client.post(reverse("member_add", kwargs={"project_id": project.pk}), {"username": "charlie", "role": "viewer"})
    member = Membership.objects.get(project=project, user=charlie)
    client.post(reverse("member_remove", kwargs={"project_id": project.pk, "membership_id": member.pk}))
    granted, removed = AuditEntry.objects.filter(target_type="role", target_id=member.pk).order_by("at", "id")
    assert (granted.action, granted.detail, granted.actor) == ("role.granted", "viewer of Trailer", alice)
    assert (removed.action, removed.detail, removed.actor) == ("role.removed", "was viewer", alice)


def test_a_change_outside_a_request_is_the_systems(alice, bob, project):
    projects.change_role(Membership.objects.get(project=project, user=bob), Role.OWNER)
    entry = AuditEntry.objects.get(action="role.changed")
    assert entry.actor is None and entry.actor_name == "system"


def test_acting_as_names_the_actor_of_a_command(alice, bob, project):
    with audit.acting_as(alice):
        projects.change_role(Membership.objects.get(project=project, user=bob), Role.VIEWER)
    assert AuditEntry.objects.get(action="role.changed").actor == alice


def test_an_allowance_set_and_changed_in_the_admin_names_the_admin(client, superuser, bob):
    client.force_login(superuser)
    client.post(reverse("admin:quotas_userallowance_add"),
                {"user": bob.pk, "monthly_seconds": "600", "monthly_spend_usd": "", "concurrent_renders": ""})
    allowance = UserAllowance.objects.get(user=bob)
    client.post(reverse("admin:quotas_userallowance_change", args=[allowance.pk]),
                {"user": bob.pk, "monthly_seconds": "900", "monthly_spend_usd": "25.00", "concurrent_renders": ""})
    added, changed = AuditEntry.objects.filter(target_type="allowance").order_by("at", "id")
    assert added.action == "allowance.set" and added.actor == superuser and "monthly seconds: 600" in added.detail
    assert changed.action == "allowance.changed" and changed.target == "allowance of bob"
    assert changed.detail == "monthly seconds: 600 → 900; monthly spend (USD): default → 25.00"


def test_a_project_budget_changed_in_the_admin_is_recorded(client, superuser, project):
    client.force_login(superuser)
    client.post(reverse("admin:quotas_projectbudget_add"), {"project": project.pk, "monthly_budget_usd": "100"})
    budget = ProjectBudget.objects.get(project=project)
    client.post(reverse("admin:quotas_projectbudget_delete", args=[budget.pk]), {"post": "yes"})
    actions = list(AuditEntry.objects.filter(target_type="budget").order_by("at", "id").values_list("action", "actor"))
    assert actions == [("budget.set", superuser.pk), ("budget.removed", superuser.pk)]


def test_the_log_keeps_the_name_of_an_actor_whose_account_is_gone(alice, bob, project, django_user_model):
    ghost = django_user_model.objects.create_user("ghost", "", "password")
    audit.record(ghost, "key.disabled", "key “main”", target_type="key")
    ghost.delete()
    entry = AuditEntry.objects.get(action="key.disabled")
    assert entry.actor is None and entry.actor_name == "ghost"
