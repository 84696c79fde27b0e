import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    OWNER = "owner", "Owner"

    @property
    def rank(self):
        return {"viewer": 1, "editor": 2, "owner": 3}[self.value]

    @property
    def summary(self):
        return ROLE_SUMMARIES[self.value]


ROLE_SUMMARIES = {
    "viewer": "Watch, comment and download.",
    "editor": "Also submit, remix, cancel and delete their own renders.",
    "owner": "Also manage members, settings and any render.",
}


class Project(models.Model):
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    # The change marker: moves on (by one, in an atomic UPDATE) whenever a render of the project is created,
    # moves status, shows more progress or is deleted. Open pages send the value they last saw and get an empty
    # answer while it is the same (renders.notices.changes), so they can ask every few seconds.
    revision = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        # the marker moves only by mark_changed's UPDATE: saving an instance read earlier must not set it back
        if not self._state.adding and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            kwargs["update_fields"] = [f.name for f in self._meta.concrete_fields
                                       if not f.primary_key and f.name != "revision"]
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("studio", kwargs={"project_id": self.pk})

    @property
    def is_archived(self):
        return self.archived_at is not None

    @staticmethod
    def mark_changed(project_id):
        """Move the project's change marker on once the current transaction commits (at once outside one), so
        a page that reads the new value also reads the change. After the commit, in an UPDATE of its own, it
        holds the project row for that one statement only: two workers moving renders of one project never wait
        on each other's transactions (nor deadlock), and a rolled-back change moves nothing."""
        transaction.on_commit(
            lambda: Project.objects.filter(pk=project_id).update(revision=F("revision") + 1), robust=True)


class Membership(models.Model):
    project = models.ForeignKey(Project, models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="unique_membership")]

    def __str__(self):
        return f"{self.user} in {self.project} ({self.role})"

    def has_role(self, role):
        return Role(self.role).rank >= Role(role).rank

    @property
    def is_owner(self):
        return self.role == Role.OWNER

    def can_change(self, author_id):
        """Cancel, delete or otherwise change an object made by `author_id` (a render, a comment):
        owners any, editors their own, viewers none."""
        if self.has_role(Role.OWNER):
            return True
        return self.has_role(Role.EDITOR) and author_id is not None and author_id == self.user_id


def _same_address(a, b):
    return bool(a) and bool(b) and a.strip().casefold() == b.strip().casefold()


def _digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


class InvitationQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())

    def by_token(self, token):
        return self.filter(token_digest=_digest(token))


class Invitation(models.Model):
    """An emailed link to join a project with a role. Only the SHA-256 of the token is stored: the link is
    shown once to the owner who made it and emailed once, like a password reset link."""

    project = models.ForeignKey(Project, models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Off: only an account with the invited email joins through the link (a forwarded or leaked link is useless
    # to anyone else). On: the owner chose to let whoever holds the link join, like a shared join link.
    anyone_with_link = models.BooleanField(default=False)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["project", "expires_at"], name="invitation_project_expiry")]

    def __str__(self):
        return f"{self.email} to {self.project} ({self.role})"

    @classmethod
    def new(cls, project, email, role, invited_by, anyone_with_link=False):
        """An unsaved invitation and its raw token (the only time the token exists in clear)."""
        token = secrets.token_urlsafe(32)
        expires_at = timezone.now() + timedelta(days=settings.INVITATION_EXPIRY_DAYS)
        invitation = cls(project=project, email=email, role=role, invited_by=invited_by,
                         token_digest=_digest(token), expires_at=expires_at, anyone_with_link=anyone_with_link)
        return invitation, token

    def admits(self, user):
        """Whether `user` may join through this invitation: anyone when the owner opened the link, otherwise
        only an account whose email is the invited address (compared without regard to case or spaces)."""
        return self.anyone_with_link or _same_address(user.email, self.email)

    @property
    def masked_email(self):
        """The invited address with its local part hidden ("d•••@example.org"): enough for the person it was sent
        to to recognise it, too little for whoever else holds the link to learn it."""
        local, _, domain = self.email.partition("@")
        return f"{local[:1]}•••@{domain}"

    @property
    def state(self):
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"

    @property
    def is_pending(self):
        return self.state == "pending"
