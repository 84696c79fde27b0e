"""The rules that live in projects.services: at least one owner, single-use invitations, the demo seed."""

import io
import threading

import pytest
from django.db import close_old_connections

from projects import services
from projects.models import Invitation, Membership, Project, Role

pytestmark = pytest.mark.project(description="Spring launch", members={})


@pytest.mark.django_db
def test_the_last_owner_can_neither_step_down_nor_be_removed_nor_leave(alice, project):
    mine = Membership.objects.get(project=project, user=alice)
    for change in (lambda: services.change_role(mine, Role.EDITOR), lambda: services.remove_member(mine),
                   lambda: services.leave_project(mine)):
        with pytest.raises(services.ProjectError):
            change()
    mine.refresh_from_db()
    assert mine.role == Role.OWNER


def _race(*actions):
    """Run the actions at the same moment in threads, each on its own database connection."""
    barrier = threading.Barrier(len(actions))
    outcomes = [None] * len(actions)

    def run(i, action):
        try:
            barrier.wait()
            action()
            outcomes[i] = "ok"
        except services.ProjectError:
            outcomes[i] = "refused"
        finally:
            close_old_connections()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(outcomes)


@pytest.mark.django_db(transaction=True)
def test_two_owners_demoting_each_other_at_once_leave_one_owner(alice, bob):
    for _ in range(5):
        project = services.create_project(alice, "Race")
        theirs = Membership.objects.create(project=project, user=bob, role=Role.OWNER)
        mine = Membership.objects.get(project=project, user=alice)
        outcomes = _race(lambda m=mine: services.change_role(m, Role.VIEWER),
                         lambda m=theirs: services.remove_member(m))
        assert outcomes == ["ok", "refused"]
        assert project.memberships.filter(role=Role.OWNER).count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_invitation_used_twice_at_once_makes_one_member(alice, bob, charlie):
    project = services.create_project(alice, "Race")
    invitation, _ = services.invite(project, "x@example.org", Role.EDITOR, alice, anyone_with_link=True)
    outcomes = _race(lambda: services.accept_invitation(invitation, bob),
                     lambda: services.accept_invitation(invitation, charlie))
    assert outcomes == ["ok", "refused"]
    assert project.memberships.count() == 2
    assert Invitation.objects.get().state == "accepted"


@pytest.mark.django_db
def test_a_revoked_invitation_cannot_be_accepted(alice, bob, project):
    invitation, _ = services.invite(project, "bob@example.org", Role.EDITOR, alice)
    services.revoke_invitation(invitation)
    with pytest.raises(services.InvitationGone, match="no longer valid"):
        services.accept_invitation(invitation, bob)
    assert not project.memberships.filter(user=bob).exists()


@pytest.mark.django_db
def test_the_demo_project_is_seeded_once(alice):
    out = io.StringIO()
    services.seed_demo_project(alice, out)
    services.seed_demo_project(alice, out)
    project = Project.objects.get(name="Demo project")
    assert Membership.objects.get(project=project).user == alice
    assert Membership.objects.get(project=project).role == Role.OWNER
    assert out.getvalue().count("Created the project") == 1


@pytest.mark.django_db
def test_seed_demo_command_calls_the_hook(monkeypatch):
    from django.core.management import call_command

    monkeypatch.setenv("DEMO_PASSWORD", "demo-password-1")
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())
    assert Project.objects.filter(name="Demo project", memberships__user__username="demo").count() == 1
