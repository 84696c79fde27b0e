"""State changes of projects, memberships and invitations. Views and commands call these; nothing else writes.

Every change to who is in a project runs in a transaction that first locks the project row
(`_lock`): two owners demoting each other at the same moment are serialised, so the "at least one owner"
check always counts committed rows. On SQLite the IMMEDIATE transaction mode takes the write lock at BEGIN,
which serialises the same way.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from projects.models import Invitation, Membership, Project, Role

logger = logging.getLogger(__name__)


class ProjectError(ValidationError):
    """A refused change, with a message meant for the person who asked."""


class InvitationGone(ProjectError):
    """The invitation was used, withdrawn or has expired: its link is dead."""


class InvitationForAnotherAddress(ProjectError):
    """The invitation is bound to the address it was sent to, and this account has another one."""


LAST_OWNER_MESSAGE = "A project needs at least one owner: make someone else an owner first."
ARCHIVED_MESSAGE = "This project is archived and read-only: restore it first."


def _lock(project):
    """Lock the project row for the rest of the transaction and return a fresh copy."""
    return Project.objects.select_for_update().get(pk=project.pk)


def _require_active(project):
    if project.is_archived:
        raise ProjectError(ARCHIVED_MESSAGE)


def _other_owners(project, membership):
    return project.memberships.filter(role=Role.OWNER).exclude(pk=membership.pk).exists()


# --- projects -----------------------------------------------------------------------------------------

def create_project(user, name, description=""):
    with transaction.atomic():
        project = Project.objects.create(name=name.strip(), description=description.strip(), created_by=user)
        Membership.objects.create(project=project, user=user, role=Role.OWNER)
    return project


def update_project(project, name, description):
    with transaction.atomic():
        locked = _lock(project)
        _require_active(locked)
        locked.name, locked.description = name.strip(), description.strip()
        locked.save(update_fields=["name", "description"])
    project.name, project.description = locked.name, locked.description
    return project


def archive_project(project):
    """Archive: the project keeps everything but becomes read-only. A second archive is a no-op."""
    Project.objects.filter(pk=project.pk, archived_at__isnull=True).update(archived_at=timezone.now())
    project.refresh_from_db(fields=["archived_at"])
    return project


def restore_project(project):
    Project.objects.filter(pk=project.pk).update(archived_at=None)
    project.archived_at = None
    return project


# --- members ------------------------------------------------------------------------------------------

def add_member(project, username, role):
    """Add an existing user by username (case-insensitive)."""
    User = get_user_model()
    user = User.objects.filter(**{f"{User.USERNAME_FIELD}__iexact": username.strip()}, is_active=True).first()
    if user is None:
        raise ProjectError(f"No user is called “{username.strip()}”. Invite them by email instead.")
    with transaction.atomic():
        locked = _lock(project)
        _require_active(locked)
        if locked.memberships.filter(user=user).exists():
            raise ProjectError(f"{user.get_username()} is already a member.")
        return Membership.objects.create(project=locked, user=user, role=Role(role))


def change_role(membership, role):
    role = Role(role)
    with transaction.atomic():
        project = _lock(membership.project)
        _require_active(project)
        current = Membership.objects.get(pk=membership.pk)
        if current.role == Role.OWNER and role != Role.OWNER and not _other_owners(project, current):
            raise ProjectError(LAST_OWNER_MESSAGE)
        current.role = role
        current.save(update_fields=["role"])
    membership.role = role
    return membership


def remove_member(membership):
    with transaction.atomic():
        project = _lock(membership.project)
        _require_active(project)
        current = Membership.objects.filter(pk=membership.pk).first()
        if current is None:
            return
        if current.role == Role.OWNER and not _other_owners(project, current):
            raise ProjectError(LAST_OWNER_MESSAGE)
        current.delete()


def leave_project(membership):
    """Leave a project (allowed even when it is archived); the last owner cannot leave."""
    with transaction.atomic():
        project = _lock(membership.project)
        current = Membership.objects.filter(pk=membership.pk).first()
        if current is None:
            return
        if current.role == Role.OWNER and not _other_owners(project, current):
            raise ProjectError(
                "You are the last owner of this project: make someone else an owner before you leave, "
                "or archive the project."
            )
        current.delete()


# --- invitations --------------------------------------------------------------------------------------

def invitation_url(token):
    """An absolute link, built from SITE_URL: invitations are also made outside requests."""
    return settings.SITE_URL + reverse("invitation_accept", kwargs={"token": token})


def invite(project, email, role, invited_by, anyone_with_link=False):
    """Create an invitation and email its link; returns (invitation, url). A pending invitation to the
    same address is revoked, so "invite again" is also "send a fresh link". Unless `anyone_with_link`, only an
    account with that address can join through it."""
    email = email.strip()
    User = get_user_model()
    with transaction.atomic():
        locked = _lock(project)
        _require_active(locked)
        if locked.memberships.filter(user__email__iexact=email).exists():
            raise ProjectError(f"{email} already belongs to a member of this project.")
        locked.invitations.pending().filter(email__iexact=email).update(revoked_at=timezone.now())
        invitation, token = Invitation.new(locked, email, Role(role), invited_by, anyone_with_link)
        invitation.save()
        url = invitation_url(token)
        has_account = User.objects.filter(email__iexact=email).exists()
        context = {"invitation": invitation, "project": locked, "url": url, "invited_by": invited_by,
                   "has_account": has_account}
        message = EmailMultiAlternatives(
            subject=f"{_name(invited_by)} invited you to {locked.name} on soraweb",
            body=render_to_string("projects/email/invitation.txt", context),
            to=[email],
        )
        # after commit: a rolled-back invitation sends nothing
        transaction.on_commit(lambda: _send_quietly(message, invitation))
    return invitation, url


def _send_quietly(message, invitation):
    # A mail server that is down must not lose the invitation: the owner sees the link on the page too.
    try:
        message.send()
    except Exception:
        logger.exception("could not email invitation %s", invitation.pk)


def revoke_invitation(invitation):
    Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    invitation.refresh_from_db(fields=["revoked_at"])
    return invitation


def accept_invitation(invitation, user):
    """Join the invitation's project as `user`. The claim is a conditional UPDATE, so a link works once
    even when two tabs press "Join" together. Returns the membership (an existing one is kept, and its
    role raised to the invitation's if that is higher). A bound invitation refuses an account with another
    email and stays usable by the invited address."""
    if not invitation.admits(user):
        raise InvitationForAnotherAddress(INVITATION_FOR_ANOTHER_ADDRESS)
    with transaction.atomic():
        project = _lock(invitation.project)
        if project.is_archived:
            raise ProjectError("This project is archived: ask an owner to restore it, then use the link again.")
        now = timezone.now()
        claimed = Invitation.objects.filter(
            pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
        ).update(accepted_at=now, accepted_by=user)
        if not claimed:
            invitation.refresh_from_db()
            raise InvitationGone(INVITATION_GONE)
        membership = project.memberships.filter(user=user).first()
        if membership is None:
            try:
                with transaction.atomic():
                    membership = Membership.objects.create(project=project, user=user, role=invitation.role)
            except IntegrityError:  # joined another way in the meantime
                membership = project.memberships.get(user=user)
        if Role(invitation.role).rank > Role(membership.role).rank:
            membership.role = invitation.role
            membership.save(update_fields=["role"])
    invitation.refresh_from_db()
    return membership


# Whoever holds a used, withdrawn or expired link learns only that it is dead: not the project, who invited whom,
# nor what became of it (a forwarded or leaked link must not tell its reader anything)
INVITATION_GONE = "This invitation link is no longer valid"


# Said to a signed-in account the invitation is not for; like INVITATION_GONE it names no project or inviter
INVITATION_FOR_ANOTHER_ADDRESS = "This invitation was sent to another address"


def _name(user):
    if user is None:
        return "Someone"
    return user.get_full_name() or user.get_username()


# --- demo ---------------------------------------------------------------------------------------------

DEMO_PROJECT_NAME = "Demo project"


def seed_demo_project(user, stdout):
    """Called by `manage.py seed_demo`: a "Demo project" owned by `user`, created once."""
    if Project.objects.filter(name=DEMO_PROJECT_NAME, memberships__user=user).exists():
        return None
    project = create_project(
        user, DEMO_PROJECT_NAME,
        "A place to try soraweb: submit a prompt and watch it render on the simulator.",
    )
    stdout.write(f"Created the project “{project.name}” owned by {user.get_username()}.")
    return project
