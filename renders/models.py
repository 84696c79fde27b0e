import hashlib
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from projects.access import get_membership
from quotas.models import Reservation, cents_to_usd
from renders.states import FINAL, IN_FLIGHT, Status, can_move

VARIANTS = {
    # variant -> (file field, content type, file name in storage)
    "video": ("video", "video/mp4", "video.mp4"),
    "thumbnail": ("thumbnail", "image/webp", "thumbnail.webp"),
    "spritesheet": ("spritesheet", "image/jpeg", "spritesheet.jpg"),
}


def asset_path(render, filename):
    return f"renders/{render.project_id}/{render.pk}/{filename}"


def reference_path(render, filename):
    # a random name: the file is served only through the membership-checked view anyway
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"renders/{render.project_id}/references/{uuid.uuid4().hex}.{ext}"


def prompt_hash(prompt):
    return hashlib.sha256(prompt.encode()).hexdigest()


class RenderQuerySet(models.QuerySet):
    def visible(self):
        """Renders not deleted: what history pages list (deleted ones stay for lineage and accounting)."""
        return self.filter(deleted_at__isnull=True)

    def in_flight(self):
        return self.filter(status__in=IN_FLIGHT)

    def outcome_unknown(self):
        """Renders whose create was sent and never answered, that no worker holds: the reconciler looks for their
        jobs, and staff may adopt one by its id (renders.unknown_outcomes)."""
        return self.filter(status=Status.SENDING, provider_video_id="", create_sent_at__isnull=False,
                           heartbeat_at__isnull=True)


class Render(models.Model):
    project = models.ForeignKey("projects.Project", models.CASCADE, related_name="renders")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="renders")
    prompt = models.TextField()
    model = models.CharField(max_length=64)
    size = models.CharField(max_length=16)
    seconds = models.PositiveSmallIntegerField()
    reference_image = models.FileField(upload_to=reference_path, blank=True, max_length=255)
    remix_of = models.ForeignKey("self", models.SET_NULL, null=True, blank=True, related_name="remixes")
    retry_of = models.ForeignKey("self", models.SET_NULL, null=True, blank=True, related_name="retries")
    # The variations of one submit (the same prompt and settings, reserved together) share a group; each is an
    # ordinary render otherwise. Number and count are kept on the row so a history card needs no query.
    variation_group = models.UUIDField(null=True, blank=True)
    variation_number = models.PositiveSmallIntegerField(default=1)
    variation_count = models.PositiveSmallIntegerField(default=1)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SUBMITTING)
    progress = models.PositiveSmallIntegerField(default=0)
    # gateways' ids run long: LiteLLM's encode the provider and the model (about 150 characters)
    provider_video_id = models.CharField(max_length=255, blank=True, db_index=True)
    # Set when the create is sent and never changed once the provider accepted the job: status, download,
    # remix and delete of a job only work with the key that created it. A remix is pinned to its parent's key.
    api_key = models.ForeignKey("providers.ApiKey", models.PROTECT, null=True, blank=True, related_name="renders")
    job_slot_held = models.BooleanField(default=False, help_text="Holds one of its key's concurrency slots.")

    cost_estimate_usd = models.DecimalField(max_digits=10, decimal_places=4, default=0)
    charged_usd = models.DecimalField(max_digits=10, decimal_places=4, default=0)
    delivered_seconds = models.DecimalField(max_digits=7, decimal_places=3, null=True, blank=True,
                                            help_text="Read from the stored MP4.")
    video = models.FileField(upload_to=asset_path, blank=True, max_length=255)
    thumbnail = models.FileField(upload_to=asset_path, blank=True, max_length=255)
    spritesheet = models.FileField(upload_to=asset_path, blank=True, max_length=255)

    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True, help_text="In plain words, for the people who submitted it.")

    # Every wait (a poll, a retry, a wait for a key) is a time here, claimed by the periodic dispatcher.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Set while a worker holds the render; a stale one means the worker died (the reaper resumes the work).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The worker process (a WorkerBeat's name) that last claimed the render: it holds it while heartbeat_at is set.
    # Its beat, not the render's heartbeat (which a long download stamps only while bytes flow), tells in seconds
    # that it died. Left as it is on release: without a heartbeat it holds nothing.
    claimed_by = models.CharField(max_length=255, blank=True)
    # The attempt token of the latest claim: each claim draws a new one and the reaper clears it when it takes the
    # render from a quiet worker. A holder's writes are fenced by it (see `fence`), so a holder that lost the render
    # (frozen past the stale time, then resumed) sends nothing and writes nothing.
    claim_token = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Tries of the current step.")
    create_sent_at = models.DateTimeField(null=True, blank=True)
    prompt_hash = models.CharField(max_length=64, blank=True)
    provider_expires_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = RenderQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["project", "-created_at"], name="render_history"),
            models.Index(fields=["status"], name="render_status"),
            # the dispatcher's question: what is due? (only the few renders with a pending wait)
            models.Index(fields=["next_attempt_at"], name="render_due",
                         condition=Q(next_attempt_at__isnull=False)),
            # the reaper's question: which renders does a worker hold? (only the few held ones are indexed)
            models.Index(fields=["claimed_by"], name="render_held", condition=Q(heartbeat_at__isnull=False)),
            # the variations page's question: the renders of this group (only grouped renders are indexed)
            models.Index(fields=["variation_group"], name="render_variations",
                         condition=Q(variation_group__isnull=False)),
        ]
        constraints = [
            # one render per provider job: two renders can never adopt (or be billed for) the same video
            models.UniqueConstraint(fields=["api_key", "provider_video_id"], name="render_unique_provider_video",
                                    condition=~Q(provider_video_id="")),
            models.CheckConstraint(condition=Q(progress__lte=100), name="render_progress_max_100"),
        ]

    def __str__(self):
        return f"Render {self.pk} ({self.status})"

    @property
    def is_final(self):
        return self.status in FINAL

    @property
    def in_flight(self):
        return self.status in IN_FLIGHT

    @property
    def is_deleted(self):
        return self.deleted_at is not None

    @property
    def can_cancel(self):
        # only before the create is sent: an accepted job is billed, so it runs to the end
        return self.status in (Status.SUBMITTING, Status.WAITING)

    @property
    def can_delete(self):
        return self.is_final and not self.is_deleted

    @property
    def is_variation(self):
        return self.variation_group is not None and self.variation_count > 1

    @property
    def outcome_unknown(self):
        return self.status == Status.SENDING and self.create_sent_at is not None and not self.provider_video_id

    def asset(self, variant):
        return getattr(self, VARIANTS[variant][0])

    # Set on the instance a claim returns (renders.pipeline.claim): its attempt token. While set, move() and update_if()
    # only write while the row still carries it: another worker's claim or the reaper has taken the render otherwise.
    fence = None

    def held_rows(self):
        """The render's row, while this instance may write it (for a claim's instance: while its claim holds)."""
        rows = Render.objects.filter(pk=self.pk)
        return rows.filter(claim_token=self.fence) if self.fence else rows

    @property
    def taken_over(self):
        """This claim's instance, as last read, no longer holds the render (another claim or the reaper took it)."""
        return self.fence is not None and self.claim_token != self.fence

    def holds(self):
        """Whether this instance's claim still holds the render (always, for an instance no claim returned); stamps
        the heartbeat. The last check before a step does something it cannot take back, such as sending a create."""
        return bool(self.held_rows().update(heartbeat_at=timezone.now()))

    def move(self, to, *, source, message="", request_id="", event_kind="status", **fields):
        """Move to `to` with a conditional UPDATE on the status read, so two workers (or a worker and a user)
        can never both make a move; returns False (and changes nothing) when the move is not legal from the
        status the render has now, or when a claim's instance no longer holds it (`fence`). Writes the event. Call
        inside the caller's transaction."""
        for _ in range(3):
            current = self.status
            if not can_move(current, to):
                return False
            now = timezone.now()
            values = {"status": to, "updated_at": now, "attempts": 0, **fields}
            if self.held_rows().filter(status=current).update(**values):
                for name, value in values.items():
                    setattr(self, name, value)
                self.events.create(kind=event_kind, status_from=current, status_to=to, message=message,
                                   request_id=request_id or "", source=source)
                return True
            self.refresh_from_db()
            if self.taken_over:
                return False
        return False

    def update_if(self, *, status=None, **fields):
        """A conditional UPDATE of fields while the render still has `status` (default: the one read)."""
        status = status or self.status
        statuses = status if isinstance(status, (set, frozenset, list, tuple)) else [status]
        fields.setdefault("updated_at", timezone.now())
        done = self.held_rows().filter(status__in=statuses).update(**fields)
        if done:
            for name, value in fields.items():
                setattr(self, name, value)
        return bool(done)

    def note(self, kind, message, *, source="", request_id=""):
        # not a status change: the statuses stay blank so the timeline's status moves are the STATUS events
        return self.events.create(kind=kind, message=message, source=source, request_id=request_id or "")


class WorkerBeat(models.Model):
    """One worker process that claims renders (a prefork pool's child, or a solo worker), beating every
    WORKER_BEAT_SECONDS (renders.workers). A beat older than WORKER_DEAD_AFTER_SECONDS, or a stop, says the process
    is gone, and the reaper resumes what it held at once, not after RENDER_HEARTBEAT_STALE_SECONDS.

    Times are the database's clock (Now()), so several hosts' clocks never make a live worker look dead."""

    name = models.CharField(max_length=255, unique=True)  # host:pid:random, never reused
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(db_default=Now())
    beat_at = models.DateTimeField(db_default=Now())
    stopped_at = models.DateTimeField(null=True, blank=True)  # a clean exit: it holds nothing any more

    class Meta:
        indexes = [models.Index(fields=["beat_at"], name="workerbeat_beat")]

    def __str__(self):
        return self.name

    @classmethod
    def dead(cls):
        """The workers gone: stopped, or silent longer than WORKER_DEAD_AFTER_SECONDS (by the database's clock)."""
        silent = Now() - timedelta(seconds=settings.WORKER_DEAD_AFTER_SECONDS)
        return cls.objects.filter(Q(stopped_at__isnull=False) | Q(beat_at__lt=silent))

    @classmethod
    def forget_gone(cls):
        """Remove the rows of workers gone for a day (every restart adds rows, one per pool child): whatever they
        held was resumed long ago, if not by their death then by its stale heartbeat."""
        return cls.objects.filter(beat_at__lt=Now() - timedelta(days=1)).delete()[0]


class EventKind(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    STATUS = "status", "Status change"
    REQUEST = "request", "Provider request"
    WEBHOOK = "webhook", "Webhook"
    RETRY = "retry", "Retry"
    WAIT = "wait", "Wait"
    ERROR = "error", "Error"
    ADOPTED = "adopted", "Job adopted"  # by the reconciler (found in the list) or by staff (its id entered)
    CANCELED = "canceled", "Canceled"
    DELETED = "deleted", "Deleted"
    NOTE = "note", "Note"


class RenderEvent(models.Model):
    """The render's timeline: every status change, provider request id, error, retry and wait."""

    render = models.ForeignKey(Render, models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    status_from = models.CharField(max_length=16, choices=Status.choices, blank=True)
    status_to = models.CharField(max_length=16, choices=Status.choices, blank=True)
    message = models.TextField(blank=True)
    request_id = models.CharField(max_length=100, blank=True, help_text="The provider's x-request-id.")
    source = models.CharField(max_length=16, blank=True, help_text="user, worker, poll, webhook, reconciler")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["render", "created_at"], name="renderevent_timeline")]

    def __str__(self):
        return f"{self.kind}: {self.message}"


class BillingIncident(models.Model):
    """A job the provider may have billed although the render got nothing: its create was sent, no answer came
    back, and no job was ever attached to it (renders.reconcile.give_up). The author is refunded in full; the amount
    the provider may have billed counts in the key's spend until staff reconcile it with the provider's own records
    and note what they found (`resolve`). Opened in the transaction that fails the render, once per render."""

    render = models.OneToOneField(Render, models.PROTECT, related_name="billing_incident")
    api_key = models.ForeignKey("providers.ApiKey", models.PROTECT, related_name="billing_incidents")
    # cents, like the ledger: the render's price (its reservation's seconds × price per second)
    amount_cents = models.BigIntegerField(help_text="What the provider may have billed, in US cents.")
    opened_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    billed = models.BooleanField(null=True, blank=True, help_text="What staff found at the provider.")
    resolution = models.CharField(max_length=500, blank=True, help_text="Staff's note.")

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            # resolved means staff said whether the provider billed it
            models.CheckConstraint(condition=Q(resolved_at__isnull=True, billed__isnull=True)
                                   | Q(resolved_at__isnull=False, billed__isnull=False),
                                   name="billing_incident_resolved_with_finding"),
        ]
        indexes = [models.Index(fields=["api_key"], name="billing_incident_open",
                                condition=Q(resolved_at__isnull=True))]

    def __str__(self):
        return f"Render {self.render_id} may have been billed ${self.amount_usd}"

    @property
    def is_open(self):
        return self.resolved_at is None

    @property
    def amount_usd(self):
        return cents_to_usd(self.amount_cents)

    @classmethod
    def open_for(cls, render):
        """Open the render's incident (call in the transaction that fails it); the one-to-one makes a second call
        (a racing reconciler pass) a no-op. Returns the incident, new or not."""
        reservation = Reservation.objects.filter(render_id=render.pk).values_list("cents", flat=True).first()
        cents = reservation if reservation is not None else int((render.cost_estimate_usd * 100).to_integral_value())
        try:
            with transaction.atomic():
                return cls.objects.create(render=render, api_key_id=render.api_key_id, amount_cents=cents)
        except IntegrityError:
            return cls.objects.get(render=render)

    def resolve(self, by, *, billed, note=""):
        """Staff checked with the provider: close the incident with what they found, once (a conditional UPDATE: two
        staff resolving at once leave the first one's finding). Returns whether this call closed it."""
        now = timezone.now()
        closed = BillingIncident.objects.filter(pk=self.pk, resolved_at__isnull=True).update(
            resolved_at=now, resolved_by=by, billed=billed, resolution=note[:500])
        if closed:
            self.resolved_at, self.resolved_by, self.billed, self.resolution = now, by, billed, note[:500]
        return bool(closed)


class WebhookDelivery(models.Model):
    """A verified webhook from a provider, stored once per `webhook-id` (the sender retries with the same id).

    Kept even when no render has its video id yet (the webhook can beat the create's answer, or arrive for a
    job the reconciler has still to adopt): it is applied when a render takes that id."""

    api_key = models.ForeignKey("providers.ApiKey", models.CASCADE, related_name="webhook_deliveries")
    webhook_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=64, blank=True)
    video_id = models.CharField(max_length=255, blank=True, db_index=True)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now)
    render = models.ForeignKey(Render, models.SET_NULL, null=True, blank=True, related_name="webhook_deliveries")
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["api_key", "webhook_id"], name="webhook_delivery_once"),
        ]
        indexes = [
            # the reconciler's question: which deliveries were never applied? (the few, not every one ever stored)
            models.Index(fields=["received_at"], name="webhook_unapplied", condition=Q(applied_at__isnull=True)),
        ]

    def __str__(self):
        return f"{self.event_type} {self.video_id} ({self.webhook_id})"


# --- the studio page: favourites, notification choices and notices (renders.history, renders.notices) ------------

class Favourite(models.Model):
    """A render one user starred: personal, so a favourite is never a change to the project."""

    # no index of its own: the unique (user, render) index below starts with the user
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="favourite_renders",
                             db_index=False)
    render = models.ForeignKey(Render, models.CASCADE, related_name="favourites")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # also the index the history's per-user Exists() and its favourites filter read
            models.UniqueConstraint(fields=["user", "render"], name="favourite_once"),
        ]

    def __str__(self):
        return f"{self.user} likes render {self.render_id}"


class NotificationSettings(models.Model):
    """A user's own choices about notices (no row = the defaults: on-page notices only, no email)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.CASCADE, primary_key=True,
                                related_name="notification_settings")
    email_on_finish = models.BooleanField(
        default=False, help_text="Email me when one of my renders completes or fails.")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"Notification settings of {self.user}"


class Notice(models.Model):
    """"Your render completed" / "failed: why", for the author, written once when the render reaches a final
    state. The every-page poll shows unseen ones on whatever page the user has open; the email goes out at most once
    (emailed_at is claimed with a conditional UPDATE)."""

    class Kind(models.TextChoices):
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="render_notices")
    render = models.ForeignKey(Render, models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    message = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # a final state is reached once; a second call (a rerun, a duplicate hook) writes nothing
            models.UniqueConstraint(fields=["render", "user", "kind"], name="notice_once"),
        ]
        indexes = [
            # the every-page poll's question, asked every 2 s by every open page: anything unseen for me?
            models.Index(fields=["user", "id"], name="notice_unseen", condition=Q(seen_at__isnull=True)),
        ]

    def __str__(self):
        return f"{self.kind} notice of render {self.render_id} for {self.user}"


# --- review: comments (renders/views/render.py) ------------------------------------------------------------

COMMENT_MAX_CHARS = 4000


class Comment(models.Model):
    """A note on a render by a member of its project (viewers included): the team's review thread.

    `project` repeats render.project so the project's activity feed reads comments by one index, without a
    join through renders; Comment.post keeps the two in step."""

    render = models.ForeignKey(Render, models.CASCADE, related_name="comments")
    project = models.ForeignKey("projects.Project", models.CASCADE, related_name="render_comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="render_comments")
    body = models.TextField(max_length=COMMENT_MAX_CHARS)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["render", "created_at"], name="comment_thread"),
            models.Index(fields=["project", "-created_at"], name="comment_feed"),
        ]

    def __str__(self):
        return f"Comment by {self.author} on render {self.render_id}"

    @classmethod
    def post(cls, render, author, body):
        """A new comment by `author` (any member but an archived project's: projects.access raises 404 / 403).
        ValidationError (by field) for an empty or too long body; the text is kept as typed otherwise."""
        get_membership(author, render.project_id, write=True)
        body = (body or "").strip()
        if not body:
            raise ValidationError({"body": "Write something first."})
        if len(body) > COMMENT_MAX_CHARS:
            raise ValidationError({"body": f"The comment is {len(body)} characters; the most is {COMMENT_MAX_CHARS}."})
        return cls.objects.create(render=render, project_id=render.project_id, author=author, body=body)
