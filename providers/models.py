import uuid
from decimal import Decimal, InvalidOperation

import httpx
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from providers import crypto, presets
from providers.client import VideoClient
from providers.errors import ProviderError, shorten
from soraweb import outbound
from soraweb.validators import validate_outbound_url

# Keys whose trouble is only a pause: a billing or auth failure moves them out of these states.
WORKING_STATES = ("active", "rate_limited", "draining")


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
    base_url = models.URLField(
        validators=[validate_outbound_url],
        help_text="e.g. https://api.example.com/v1 (https to a public address; a local server only where the "
                  "OUTBOUND_ALLOW_PRIVATE setting is on)",
    )
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
    auth_header = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text="Empty: Authorization: Bearer <key>. Otherwise the header that carries the key as is, e.g. "
        "api-key (Azure) or x-litellm-api-key (LiteLLM).",
    )
    preset = models.CharField(
        max_length=20,
        choices=presets.CHOICES,
        default=presets.OPENAI,
        help_text="The kind of gateway; it fills the capabilities below, each still editable.",
    )
    reference_as = models.CharField(
        max_length=20,
        choices=presets.REFERENCE_CHOICES,
        default="file",
        help_text="How a reference image is sent on create.",
    )
    has_list_endpoint = models.BooleanField(default=True, help_text="GET /videos lists the key's jobs.")
    projects = models.ManyToManyField("projects.Project", blank=True, related_name="api_keys",
                                      help_text="Projects this key serves; none = the default pool.")

    state = models.CharField(max_length=20, choices=KeyState.choices, default=KeyState.ACTIVE)
    paused_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    model_table = models.JSONField(
        default=dict,
        blank=True,
        help_text='Empty: every model, size and length the settings allow. Otherwise e.g. {"sora-2": '
        '{"sizes": ["1280x720"], "seconds": [4, 8]}}.',
    )
    prices = models.JSONField(
        default=dict,
        blank=True,
        help_text='USD per second of video where this key costs other than the site\'s default (QUOTA_PRICES), '
        'e.g. {"sora-2-pro": {"1280x720": "0.35"}}; a model and size left out costs the default.',
    )

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

    def client(self, *, base_url=None, transport=None, **kwargs):
        """A VideoClient for this key (at `base_url` instead of the key's, for a probe), the secret decrypted now
        (never kept on the instance).

        Its transport (`transport`, a fresh one, or a default) is guarded by the outbound-URL policy whatever the
        caller passed: a base URL or redirect to a refused address raises URLRefused, checked on the address each
        connection reaches (soraweb.outbound). Timeouts come from settings PROVIDER_TIMEOUT_SECONDS /
        PROVIDER_CONNECT_TIMEOUT_SECONDS."""
        kwargs.setdefault(
            "timeout",
            httpx.Timeout(settings.PROVIDER_TIMEOUT_SECONDS, connect=settings.PROVIDER_CONNECT_TIMEOUT_SECONDS),
        )
        kwargs.setdefault("auth_header", self.auth_header)
        kwargs.setdefault("label", f"{self.name} (key {self.pk})")
        transport = outbound.guard(transport, allow_private=settings.OUTBOUND_ALLOW_PRIVATE)
        return VideoClient(base_url or self.base_url, self.secret, transport=transport, **kwargs)

    # State changes are conditional UPDATEs: many workers may see the same 429 or 401 at once, and only
    # the one whose UPDATE changed the row gets True (so one incident sends one notice).

    def _transition(self, from_states, **values):
        changed = ApiKey.objects.filter(pk=self.pk, state__in=from_states).update(**values, updated_at=timezone.now())
        self.refresh_from_db(fields=[*values, "updated_at"])
        return bool(changed)

    def mark_out_of_credit(self, error):
        """The provider said insufficient_quota: no new creates on this key until someone tops it up.
        Jobs already accepted keep being polled and downloaded with it."""
        now = timezone.now()
        return self._transition(
            WORKING_STATES, state=KeyState.OUT_OF_CREDIT, last_error=describe_error(error), last_error_at=now
        )

    def mark_invalid(self, error):
        """401: the key is wrong or revoked."""
        now = timezone.now()
        return self._transition(
            (*WORKING_STATES, KeyState.OUT_OF_CREDIT),
            state=KeyState.INVALID,
            last_error=describe_error(error),
            last_error_at=now,
        )

    def reactivate(self):
        """An admin enabled the key, or acknowledged a top-up: it takes new work again at once."""
        return self._transition(
            (KeyState.OUT_OF_CREDIT, KeyState.INVALID, KeyState.DISABLED, KeyState.RATE_LIMITED),
            state=KeyState.ACTIVE,
            paused_until=None,
        )

    def disable(self):
        return self._transition([state for state in KeyState.values if state != KeyState.DISABLED],
                                state=KeyState.DISABLED)

    def drain(self):
        """Rotation: jobs in flight finish on this key, new renders go to other keys."""
        return self._transition((KeyState.ACTIVE, KeyState.RATE_LIMITED), state=KeyState.DRAINING)

    def record_error(self, error):
        """Remember the last error (any kind) without changing the state."""
        ApiKey.objects.filter(pk=self.pk).update(last_error=describe_error(error), last_error_at=timezone.now())
        self.refresh_from_db(fields=["last_error", "last_error_at"])

    @property
    def remix_by(self):
        """How this key's provider remixes ("endpoint" or "create", for VideoClient.remix), None if it cannot."""
        if self.can_remix_endpoint:
            return "endpoint"
        if self.can_remix_by_create:
            return "create"
        return None

    def offered_models(self):
        """{model: {"sizes": [...], "seconds": [...]}} this key can render: the settings' table, narrowed to the
        key's `model_table` when it names any."""
        offered = {}
        for model, sizes in settings.RENDER_MODELS.items():
            allowed = {"sizes": list(sizes), "seconds": list(settings.RENDER_SECONDS)}
            if self.model_table:
                own = self.model_table.get(model)
                if not isinstance(own, dict):
                    continue
                allowed = {
                    name: [value for value in allowed[name] if value in _normalised(own.get(name), name)]
                    if own.get(name)
                    else allowed[name]
                    for name in ("sizes", "seconds")
                }
                if not allowed["sizes"] or not allowed["seconds"]:
                    continue
            offered[model] = allowed
        return offered

    def offers(self, model, size, seconds):
        """Whether this key can render `model` at `size` for `seconds`."""
        allowed = self.offered_models().get(model)
        try:
            seconds = int(seconds)
        except (TypeError, ValueError):
            return False
        return bool(allowed) and size in allowed["sizes"] and seconds in allowed["seconds"]

    def price_override(self, model, size):
        """The USD per second staff set for `model` at `size` on this key (Decimal), or None: the site's default
        applies (quotas.services.price_per_second resolves the two)."""
        value = (self.prices or {}).get(model, {})
        value = value.get(size) if isinstance(value, dict) else None
        return None if value in (None, "") else Decimal(str(value))

    @property
    def takes_new_work(self):
        """Only active keys (and rate-limited ones past their pause) take fresh creates."""
        if self.state == KeyState.ACTIVE:
            return True
        if self.state != KeyState.RATE_LIMITED:
            return False
        return self.paused_until is None or self.paused_until <= timezone.now()


PRICE_PLACES = 4
PRICE_CEILING = Decimal(1_000_000)  # a reservation keeps its price in 10 digits, 4 of them decimal places


def clean_prices(prices, offered):
    """`prices` ({model: {size: price}}) as stored: each price a non-negative decimal with at most PRICE_PLACES
    places, kept as text ("0.35"), only for the models and sizes in `offered` (ApiKey.offered_models()); blank
    prices and anything not offered are left out. Raises ValueError naming the first bad price."""
    cleaned = {}
    for model, sizes in (prices or {}).items():
        if model not in offered or not isinstance(sizes, dict):
            continue
        for size, value in sizes.items():
            if size not in offered[model]["sizes"] or value in (None, ""):
                continue
            try:
                price = Decimal(str(value).strip())
            except InvalidOperation:
                price = None
            if (price is None or not price.is_finite() or not 0 <= price < PRICE_CEILING
                    or price.as_tuple().exponent < -PRICE_PLACES):
                raise ValueError(f"{model} at {size}: a price in USD per second, 0 or more, with at most "
                                 f"{PRICE_PLACES} decimal places (e.g. 0.35), not {value!r}.")
            if price.as_tuple().exponent > -2:
                price = price.quantize(Decimal("0.01"))  # "0.30", as prices are written
            cleaned.setdefault(model, {})[size] = f"{price + 0:f}"  # + 0: never "-0"
    return cleaned


def _normalised(values, name):
    """A key's own list of sizes (strings) or seconds (ints), as staff may have typed it."""
    if not isinstance(values, list):
        return []
    if name == "seconds":
        return [int(v) for v in values if str(v).isdigit()]
    return [str(v) for v in values]


def describe_error(error):
    """A line for last_error: the error's class and a short summary of what the provider said (the client scrubs
    keys from it; the key page shows it, so never the answer at length)."""
    if isinstance(error, str):
        return error[:500]
    text = error.summary() if isinstance(error, ProviderError) else shorten(str(error))
    return f"{type(error).__name__}: {text}"[:500]


class KeyLimit(models.Model):
    """The limiter's counters for one key, kept apart from ApiKey so that an admin saving the key's form
    never writes back a stale counter. Changed only by conditional UPDATEs (providers.limiter)."""

    key = models.OneToOneField(ApiKey, models.CASCADE, primary_key=True, related_name="limit")
    jobs_in_flight = models.PositiveIntegerField(default=0)
    # The reconciler's listings of the key's jobs while creates on it have an unknown outcome (renders.reconcile):
    # while the same renders wait and listings settle none of them, the next listing waits longer (the gap doubles
    # up to RENDER_RECONCILE_LIST_MAX_GAP_SECONDS). Here, not in a cache, because any worker process may reconcile.
    next_listing_at = models.DateTimeField(null=True, blank=True)
    listing_gap_seconds = models.FloatField(default=0)
    listed_renders = models.JSONField(default=list, blank=True,
                                      help_text='The renders the last listing was for, as "id@create time".')

    def __str__(self):
        return f"{self.key_id}: {self.jobs_in_flight} jobs in flight"


class RequestSlot(models.Model):
    """One of a key's rpm_limit request slots: a slot is free again 60 s after `used_at`. Taking one is a
    conditional UPDATE, so at most rpm_limit requests go out in any rolling minute (see providers.limiter)."""

    key = models.ForeignKey(ApiKey, models.CASCADE, related_name="+")
    n = models.PositiveIntegerField()
    used_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "n"], name="providers_unique_request_slot")]

    def __str__(self):
        return f"{self.key_id}#{self.n} at {self.used_at}"


# The states that need a person: nothing fixes them by waiting.
BROKEN_STATES = (KeyState.OUT_OF_CREDIT, KeyState.INVALID)


class AuditEntry(models.Model):
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    # kept as written: the log still says who it was after the account is gone
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=40, help_text="e.g. key.added, key.drained, allowance.changed")
    target_type = models.CharField(max_length=20, help_text="key, allowance, budget or role")
    target_id = models.BigIntegerField(null=True, blank=True)
    target = models.CharField(max_length=200, help_text="What was changed, as it was named then.")
    detail = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        app_label = "providers"
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["target_type", "target_id", "-at"], name="audit_target")]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.target}"


class KeyIncident(models.Model):
    key = models.ForeignKey("providers.ApiKey", models.CASCADE, related_name="incidents")
    kind = models.CharField(max_length=20, choices=[(s.value, s.label) for s in BROKEN_STATES])
    message = models.CharField(max_length=500, blank=True, help_text="The key's last error when it opened.")
    opened_at = models.DateTimeField(default=timezone.now)
    emailed_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    resolution = models.CharField(max_length=100, blank=True)

    class Meta:
        app_label = "providers"
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["key"], condition=Q(resolved_at__isnull=True),
                                    name="providers_one_open_incident_per_key"),
        ]

    def __str__(self):
        return f"{self.key_id} {self.kind} since {self.opened_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self):
        return self.resolved_at is None


class KeyProbe(models.Model):
    """What a key's probes share (the live test, the detection): asked for by staff, done by a worker."""

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True,
                                     related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        app_label = "providers"
        ordering = ["-requested_at", "-id"]

    @property
    def is_done(self):
        return self.finished_at is not None


class KeyTest(KeyProbe):
    """A live check of a key (GET /videos?limit=1), asked for by staff and done by a worker."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Running"
        OK = "ok", "Works"
        INVALID_KEY = "invalid_key", "Refused: invalid key"
        OUT_OF_CREDIT = "out_of_credit", "Out of credit"
        RATE_LIMITED = "rate_limited", "Rate limited"
        UNAVAILABLE = "unavailable", "Provider unavailable"
        NOT_SENT = "not_sent", "Not sent"
        ERROR = "error", "Error"

    key = models.ForeignKey("providers.ApiKey", models.CASCADE, related_name="tests")
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.PENDING)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)
    request_id = models.CharField(max_length=100, blank=True)

    class Meta(KeyProbe.Meta):
        pass

    def __str__(self):
        return f"test of key {self.key_id}: {self.outcome}"

    @property
    def ok(self):
        return self.outcome == self.Outcome.OK


class KeyDetection(KeyProbe):
    """A probe of what a key's provider speaks (providers.detect), asked for by staff and done by a worker: the
    key header it accepts, whether it lists, its error shapes; the proposal is the profile staff may apply."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Probing"
        DONE = "done", "Done"
        NOT_SENT = "not_sent", "Not sent"
        FAILED = "failed", "Could not tell"

    key = models.ForeignKey("providers.ApiKey", models.CASCADE, related_name="detections")
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.PENDING)
    findings = models.JSONField(default=list, blank=True, help_text="What each probe saw, in sentences.")
    proposal = models.JSONField(default=dict, blank=True, help_text="The key fields the findings suggest.")
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta(KeyProbe.Meta):
        pass

    def __str__(self):
        return f"detection on key {self.key_id}: {self.outcome}"
