import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from providers import crypto


class KeyState(models.TextChoices):
    ACTIVE = "active", "Active"
    RATE_LIMITED = "rate_limited", "Rate limited"
    OUT_OF_CREDIT = "out_of_credit", "Out of credit"
    INVALID = "invalid", "Invalid"
    DISABLED = "disabled", "Disabled"
    DRAINING = "draining", "Draining"


class ApiKey(models.Model):
    """A provider API key. Renders remember the key that created them: status, download, remix and delete
    of a job must use it (a job is invisible to every other key)."""

    name = models.CharField(max_length=100)
    provider = models.CharField(max_length=100, default="openai-compatible", help_text="A label, e.g. Apifree.")
    base_url = models.URLField(help_text="e.g. https://api.example.com/v1")
    secret_encrypted = models.TextField(editable=False)
    secret_last4 = models.CharField(max_length=4, editable=False, blank=True)
    webhook_secret_encrypted = models.TextField(editable=False, blank=True)
    webhook_secret_last4 = models.CharField(max_length=4, editable=False, blank=True)
    webhook_uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    rpm_limit = models.PositiveIntegerField(default=25, help_text="Requests per minute we allow ourselves.")
    max_concurrent = models.PositiveIntegerField(default=10, help_text="Jobs in flight at once on this key.")
    can_remix_endpoint = models.BooleanField(default=True, help_text="POST /videos/{id}/remix")
    can_remix_by_create = models.BooleanField(default=False, help_text="POST /videos with remix_video_id")
    has_webhooks = models.BooleanField(default=False, help_text="The provider posts signed webhooks to us.")
    projects = models.ManyToManyField("projects.Project", blank=True, related_name="api_keys",
                                      help_text="Projects this key serves; none = the default pool.")

    state = models.CharField(max_length=20, choices=KeyState.choices, default=KeyState.ACTIVE)
    paused_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def __repr__(self):
        # never the secret, not even encrypted
        return f"<ApiKey {self.pk} {self.name!r} {self.state} ••••{self.secret_last4}>"

    @property
    def secret(self):
        return crypto.decrypt(self.secret_encrypted)

    @secret.setter
    def secret(self, value):
        self.secret_encrypted = crypto.encrypt(value)
        self.secret_last4 = value[-4:] if value else ""

    @property
    def webhook_secret(self):
        return crypto.decrypt(self.webhook_secret_encrypted)

    @webhook_secret.setter
    def webhook_secret(self, value):
        self.webhook_secret_encrypted = crypto.encrypt(value)
        self.webhook_secret_last4 = value[-4:] if value else ""

    @property
    def masked_secret(self):
        return f"••••{self.secret_last4}" if self.secret_last4 else ""

    @property
    def webhook_url(self):
        return f"{settings.SITE_URL}/webhooks/{self.webhook_uuid}/"

    @property
    def takes_new_work(self):
        """Only active keys (and rate-limited ones past their pause) take fresh creates."""
        if self.state == KeyState.ACTIVE:
            return True
        if self.state != KeyState.RATE_LIMITED:
            return False
        return self.paused_until is None or self.paused_until <= timezone.now()
