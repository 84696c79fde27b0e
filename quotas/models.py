"""Allowances, the counters that guard them, reservations, and the ledger that the counters must equal.

Amounts are integers in the tables: money in cents, video seconds in milliseconds. The guards are
conditional UPDATEs doing arithmetic in SQL, and SQLite keeps a DecimalField as a float (0.1 + 0.2 > 0.3);
integers are exact on both backends. The services module speaks Decimal to everyone else.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models


def cents_to_usd(cents):
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def ms_to_seconds(ms):
    return (Decimal(ms) / 1000).quantize(Decimal("0.1"))


class UserAllowance(models.Model):
    """Per-user overrides of the QUOTA_DEFAULT_* settings; an empty field means "the default"."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.CASCADE, related_name="quota_allowance")
    monthly_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds of video per calendar month; empty = the site default.")
    monthly_spend_usd = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True,
        help_text="USD per calendar month; empty = the site default.")
    concurrent_renders = models.PositiveIntegerField(
        null=True, blank=True, help_text="Renders in flight at once; empty = the site default.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Allowance of {self.user}"


class ProjectBudget(models.Model):
    """A project's monthly budget, shared by all its members; no row (or an empty field) = the site default."""

    project = models.OneToOneField("projects.Project", models.CASCADE, related_name="quota_budget")
    monthly_budget_usd = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True,
        help_text="USD per calendar month for the whole project; empty = the site default (none unless set).")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Budget of {self.project}"


class MonthCounters(models.Model):
    """The counters of one calendar month: seconds and spend, used (settled) and reserved (in flight)."""

    seconds_used_ms = models.BigIntegerField(default=0)
    seconds_reserved_ms = models.BigIntegerField(default=0)
    spend_used_cents = models.BigIntegerField(default=0)
    spend_reserved_cents = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class UserMonth(MonthCounters):
    """A user's counters for one calendar month: the rows the conditional UPDATEs guard.

    Kept apart from UserAllowance on purpose: an admin saving an allowance form must never write back a
    stale counter."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    month = models.DateField(help_text="First day of the month, in the site's time zone.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "month"], name="quotas_unique_user_month")]

    def __str__(self):
        return f"{self.user} {self.month:%Y-%m}"


class ProjectMonth(MonthCounters):
    """A project's counters for one calendar month (spend is guarded by the budget; seconds are for show)."""

    project = models.ForeignKey("projects.Project", models.CASCADE, related_name="+")
    month = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "month"], name="quotas_unique_project_month")]

    def __str__(self):
        return f"{self.project} {self.month:%Y-%m}"


class UserSlots(models.Model):
    """Renders a user has in flight (reserved, not yet settled or refunded), across months."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.CASCADE, primary_key=True, related_name="+")
    in_flight = models.IntegerField(default=0)

    def __str__(self):
        return f"{self.user}: {self.in_flight} in flight"


class Reservation(models.Model):
    """What one render holds. Its state is claimed by a conditional UPDATE, so settle and refund run once."""

    class State(models.TextChoices):
        HELD = "held", "Held"
        SETTLED = "settled", "Settled"
        REFUNDED = "refunded", "Refunded"

    render = models.OneToOneField("renders.Render", models.PROTECT, related_name="quota_reservation")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    project = models.ForeignKey("projects.Project", models.PROTECT, related_name="+")
    month = models.DateField(help_text="The month the render was submitted in: its charge counts there.")
    price_per_second_usd = models.DecimalField(max_digits=10, decimal_places=4)
    seconds_ms = models.BigIntegerField()
    cents = models.BigIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.HELD)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "state"], name="quotas_res_user_state")]

    def __str__(self):
        return f"Reservation for render {self.render_id} ({self.state})"

    @property
    def cost_usd(self):
        return cents_to_usd(self.cents)


class LedgerEntry(models.Model):
    """One movement of quota. Every counter is the sum of these deltas (check with `manage.py check_quotas`)."""

    class Kind(models.TextChoices):
        RESERVE = "reserve", "Reserve"
        SETTLE = "settle", "Settle"
        REFUND = "refund", "Refund"

    render = models.ForeignKey("renders.Render", models.PROTECT, related_name="quota_ledger")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    project = models.ForeignKey("projects.Project", models.PROTECT, related_name="+")
    month = models.DateField(help_text="The month the amounts count in (the reservation's month).")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    reason = models.CharField(max_length=200, blank=True)
    seconds_reserved_ms = models.BigIntegerField(default=0)
    seconds_used_ms = models.BigIntegerField(default=0)
    spend_reserved_cents = models.BigIntegerField(default=0)
    spend_used_cents = models.BigIntegerField(default=0)
    slots = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            # one reservation and at most one closing entry (settle or refund) per render, whatever reruns
            models.UniqueConstraint(fields=["render"], condition=models.Q(kind="reserve"),
                                    name="quotas_one_reserve_per_render"),
            models.UniqueConstraint(fields=["render"], condition=~models.Q(kind="reserve"),
                                    name="quotas_one_close_per_render"),
        ]
        indexes = [
            models.Index(fields=["user", "month"], name="quotas_ledger_user_month"),
            models.Index(fields=["project", "month"], name="quotas_ledger_project_month"),
        ]

    def __str__(self):
        return f"{self.kind} render {self.render_id} {self.month:%Y-%m}"

    @property
    def spend_used_usd(self):
        return cents_to_usd(self.spend_used_cents)

    @property
    def spend_reserved_usd(self):
        return cents_to_usd(self.spend_reserved_cents)
