"""Quotas: reserve at submit, settle to the delivered seconds, refund in full; every movement in the ledger.

The guard is a conditional UPDATE per limit: `used + reserved + asked <= limit` in the WHERE clause, so the
database decides, on PostgreSQL (the row lock plus READ COMMITTED's re-check of the WHERE on the newest
row version) and on SQLite (one writer at a time) alike. No Python lock, no SELECT ... FOR UPDATE.
All guards of one render run in one savepoint: a refusal by any limit undoes the others.

Rules the numbers follow:
- A render counts in the calendar month (settings.TIME_ZONE) it was submitted in. Its settlement or
  refund lands in that month's counters even when it happens in the next month, so a month's total never
  moves a later month's allowance and the ledger balances per month.
- The charge is the delivered duration rounded half up to a tenth of a second (an MP4 of a 4 s clip may
  read 3.98 s or 4.02 s), never more than the seconds reserved; money is those seconds times the price per
  second of the key that made the video, rounded half up to the cent, never more than the money reserved.
- Staff price each key (ApiKey.prices; the site's QUOTA_PRICES where a key sets none). The pool picks a render's
  key after its reservation, so a render reserves at the highest price of the keys that may serve it and settles
  at its own key's price, never above the reserved one (`reserve_price`, `settlement_price`).
- Money is Decimal everywhere outside the tables (which hold integer cents and milliseconds).
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Sum, Value
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from providers.models import ApiKey
from quotas.models import (
    LedgerEntry,
    ProjectBudget,
    ProjectMonth,
    Reservation,
    UserAllowance,
    UserMonth,
    UserSlots,
    cents_to_usd,
    ms_to_seconds,
)

log = logging.getLogger(__name__)

MONTHLY_SECONDS = "monthly_seconds"
MONTHLY_SPEND = "monthly_spend"
CONCURRENT_RENDERS = "concurrent_renders"
PROJECT_BUDGET = "project_budget"


class RefundReason:
    """The reasons the pipeline passes to refund(); any short text is accepted, these are the usual ones."""

    FAILED = "failed"
    MODERATION = "moderation"
    REJECTED = "rejected"
    CANCELED = "canceled"
    NO_USABLE_KEY = "no_usable_key"


class UnknownPrice(ValueError):
    pass


# --- prices and months -------------------------------------------------------------------------

def _priced_name(model):
    """The model name whose price `model` takes: itself when the site's table (settings.QUOTA_PRICES) names it,
    else the longest name there it extends as a dated alias (`sora-2-pro-2025-10-06` → `sora-2-pro`)."""
    table = settings.QUOTA_PRICES
    if model in table:
        return model
    return max((name for name in table if model.startswith(name + "-")), key=len, default=model)


def default_price(model, size):
    """The site's USD per second for this model and size (settings.QUOTA_PRICES); a dated alias takes its base
    model's price."""
    name = _priced_name(model)
    try:
        return Decimal(str(settings.QUOTA_PRICES[name][size]))
    except KeyError:
        raise UnknownPrice(f"There is no price for {name} at {size}; choose another model or size.") from None


def price_per_second(model, size, key=None):
    """USD per second of video for this model and size made with `key`: the price staff set on the key
    (ApiKey.prices) where there is one, else the site's default (`default_price`). A dated alias takes its base
    model's price: the key's own for the alias, else the key's own for the base, else the site's."""
    if key is not None:
        for name in dict.fromkeys((model, _priced_name(model))):
            override = key.price_override(name, size)
            if override is not None:
                return override
    return default_price(model, size)


def price_range(model, size, keys=()):
    """(lowest, highest) price per second among `keys`; without keys, the site's default twice."""
    prices = [price_per_second(model, size, key) for key in keys] or [default_price(model, size)]
    return min(prices), max(prices)


def reserve_price(model, size, keys=()):
    """The price per second a render reserves at: the highest among `keys`, the keys that may serve it
    (renders.keypool.pool_for, whatever their state: a disabled key may be enabled while the render waits). The
    pool picks its key only after the reservation, so the render can never cost more than it reserved; settlement
    charges the price of the key that made it (see `settlement_price`). Without keys (the render waits for one
    to be added): the site's default, and settlement never charges more than that."""
    return price_range(model, size, keys)[1]


def settlement_price(render, reservation):
    """The price per second a completed render is charged at: that of the key that made it, as the key's prices
    stand at settlement (staff changing a price while a render is in flight change what it costs), but never
    above the price it reserved at. So a price raised meanwhile, or a key that joined the project after the
    reservation, charges at most the reserved price, and the charge never exceeds the reservation."""
    reserved = reservation.price_per_second_usd
    key = ApiKey.objects.filter(pk=render.api_key_id).first()  # its prices now, not as the render loaded them
    if key is None:
        return reserved
    try:
        return min(price_per_second(render.model, render.size, key), reserved)
    except UnknownPrice:  # the site's table lost the entry since the reservation: what was reserved
        return reserved


def to_cents(usd):
    return int((Decimal(usd) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def cost_cents(price, seconds_ms):
    return to_cents(Decimal(price) * Decimal(seconds_ms) / 1000)


def billable_ms(delivered_seconds, reserved_ms):
    """Delivered seconds, rounded half up to the tenth, within [0, reserved]."""
    try:
        tenths = Decimal(str(delivered_seconds)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise ValueError(f"Delivered seconds must be a finite number, not {delivered_seconds!r}.") from None
    return max(0, min(int(tenths * 1000), reserved_ms))


def month_of(when=None):
    """The first day of the calendar month `when` (default now) falls in, in the site's time zone."""
    return timezone.localtime(when or timezone.now(), timezone.get_default_timezone()).date().replace(day=1)


def month_start(month):
    return timezone.make_aware(datetime(month.year, month.month, 1), timezone.get_default_timezone())


def next_month(month):
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def resets_at(month):
    """When the allowances of `month` start afresh: the first instant of the next month, site time."""
    return month_start(next_month(month))


# --- limits ------------------------------------------------------------------------------------

def user_limits(user):
    """The user's effective allowances: their override where set, else the site default (None = no limit)."""
    allowance = UserAllowance.objects.filter(user=user).first()

    def pick(field, default):
        value = getattr(allowance, field, None) if allowance else None
        return default if value is None else value

    return {
        MONTHLY_SECONDS: pick("monthly_seconds", settings.QUOTA_DEFAULT_MONTHLY_SECONDS),
        MONTHLY_SPEND: pick("monthly_spend_usd", settings.QUOTA_DEFAULT_MONTHLY_SPEND_USD),
        CONCURRENT_RENDERS: pick("concurrent_renders", settings.QUOTA_DEFAULT_CONCURRENT_RENDERS),
    }


def project_budget(project):
    """The project's monthly budget in USD, or None for no budget."""
    budget = ProjectBudget.objects.filter(project=project).values_list("monthly_budget_usd", flat=True).first()
    return settings.QUOTA_DEFAULT_PROJECT_BUDGET_USD if budget is None else budget


def _fmt_seconds(value):
    value = Decimal(value).quantize(Decimal("0.1"))
    return f"{value.normalize():f} s" if value != value.to_integral() else f"{int(value)} s"


def _fmt_usd(value):
    return f"${Decimal(value).quantize(Decimal('0.01')):,}"


def fmt_price(value):
    """A price per second: "$0.30", "$0.3125" (at least the cents, at most the 4 places a price may have)."""
    value = Decimal(value)
    return f"${value.quantize(Decimal('0.01')) if value == value.quantize(Decimal('0.01')) else value.normalize()}"


def _fmt_when(when):
    when = timezone.localtime(when, timezone.get_default_timezone())
    return f"{when.day} {when:%B %Y} at {when:%H:%M} {when.tzname()}"


@dataclass(frozen=True)
class LimitStatus:
    """One limit as it stands: seconds as Decimal seconds, money as Decimal USD, renders as int.
    `limit` and `remaining` are None when the limit is off; `needed` is what the render in question asks."""

    code: str
    label: str
    unit: str  # "seconds", "usd" or "renders"
    limit: Decimal | int | None
    used: Decimal | int
    reserved: Decimal | int
    remaining: Decimal | int | None
    needed: Decimal | int
    resets_at: datetime | None
    project_name: str = ""
    count: int = 1  # how many renders `needed` is for: the variations of one submit, reserved together

    @property
    def ok(self):
        return self.remaining is None or self.needed <= self.remaining

    def fmt(self, value):
        return {"seconds": _fmt_seconds, "usd": _fmt_usd}.get(self.unit, str)(value)

    @property
    def message(self):
        """What to tell a user this limit refuses the render for; empty while it fits."""
        return "" if self.ok else self.refusal

    @property
    def fits(self):
        """How many of the `count` renders the remaining room would take (all of them when the limit is off)."""
        if self.remaining is None:
            return self.count
        each = self.needed / self.count if self.count else self.needed
        return self.count if not each else min(self.count, int(self.remaining // each))

    @property
    def refusal(self):
        """The refusal in plain words: what the render (or the `count` variations together) needs, what is left,
        and for variations how many would fit."""
        fits = self.fits if self.count > 1 else 0
        if self.code == CONCURRENT_RENDERS:
            if fits:
                return (f"Room for {fits} more render{'s' if fits != 1 else ''} in flight (you may run {self.limit}"
                        f" at once): choose {fits} variation{'s or fewer' if fits > 1 else ''}.")
            return (f"You already have {self.used} render{'s' if self.used != 1 else ''} in flight, the most you"
                    f" may run at once ({self.limit}). Submit again when one of them finishes.")
        choose = f" Choose {fits} variation{'s or fewer' if fits > 1 else ''}." if fits else ""
        reset = f" It resets on {_fmt_when(self.resets_at)}." if self.resets_at and not fits else ""
        left, limit, needed = self.fmt(self.remaining), self.fmt(self.limit), self.fmt(self.needed)
        if self.count > 1:
            what = f"{self.count} variations"
            each = f"{needed} ({self.fmt(self.needed / self.count)} each)"
            need, cost = f"{what} need {each}", f"{what} cost {each}"
        else:
            need, cost = f"this render needs {needed}", f"this render costs {needed}"
        if self.code == MONTHLY_SECONDS:
            return f"Not enough video seconds left this month: {left} of your {limit} remain and {need}.{choose}{reset}"
        if self.code == MONTHLY_SPEND:
            return f"Not enough of your monthly spend left: {left} of {limit} remains and {cost}.{choose}{reset}"
        return (f"Not enough of the monthly budget of project “{self.project_name}” left: {left} of {limit}"
                f" remains and {cost}.{choose}{reset}")


def _status(code, *, limit, used, reserved, needed, reset, project_name="", count=1):
    """Build a LimitStatus from table units (ms, cents, renders) and the limit in display units."""
    unit, label = {
        MONTHLY_SECONDS: ("seconds", "Video seconds this month"),
        MONTHLY_SPEND: ("usd", "Spend this month"),
        CONCURRENT_RENDERS: ("renders", "Renders in flight"),
        PROJECT_BUDGET: ("usd", "Project budget this month"),
    }[code]
    convert = {"seconds": ms_to_seconds, "usd": cents_to_usd, "renders": int}[unit]
    used, reserved, needed = convert(used), convert(reserved), convert(needed)
    remaining = None
    if limit is not None:
        limit = {"seconds": Decimal(limit), "usd": Decimal(limit).quantize(Decimal("0.01"))}.get(unit, limit)
        remaining = limit - used - reserved
        if remaining < 0:  # a limit lowered below what is already used: nothing left, never a negative
            remaining = {"seconds": Decimal("0.0"), "usd": Decimal("0.00")}.get(unit, 0)
    return LimitStatus(code=code, label=label, unit=unit, limit=limit, used=used, reserved=reserved,
                       remaining=remaining, needed=needed, resets_at=reset, project_name=project_name,
                       count=count)


@dataclass(frozen=True)
class Estimate:
    model: str
    size: str
    seconds: int
    price_per_second_usd: Decimal
    cost_usd: Decimal
    month: date
    resets_at: datetime
    limits: tuple[LimitStatus, ...]
    count: int = 1  # variations asked for at once; cost_usd is the cost of one
    # the cheapest key's price: below price_per_second_usd when the keys that may serve the render differ, so the
    # cost is "up to" cost_usd (what is reserved; the key that makes it decides the charge)
    lowest_price_per_second_usd: Decimal | None = None

    @property
    def prices_differ(self):
        return self.lowest_price_per_second_usd is not None and \
            self.lowest_price_per_second_usd < self.price_per_second_usd

    @property
    def price_text(self):
        """The price per second as "$0.30", with up to 4 decimal places where a key's price has them."""
        return fmt_price(self.price_per_second_usd)

    @property
    def lowest_price_text(self):
        return fmt_price(self.lowest_price_per_second_usd)

    @property
    def total_usd(self):
        return self.cost_usd * self.count

    @property
    def allowed(self):
        return all(limit.ok for limit in self.limits)

    @property
    def blocking(self):
        """The first limit this render would break, or None."""
        return next((limit for limit in self.limits if not limit.ok), None)

    @property
    def message(self):
        return self.blocking.message if self.blocking else ""

    def limit(self, code):
        return next((limit for limit in self.limits if limit.code == code), None)


class QuotaExceeded(Exception):
    """A submission refused by a limit; `limit` is its LimitStatus, str(exc) a message for the user."""

    def __init__(self, limit):
        self.limit = limit
        super().__init__(limit.refusal)


def _limit_statuses(user, project, *, seconds_ms, cents, month, count=1):
    """Every limit that applies, read from the counters (no writes): for estimates and refusal messages.
    `seconds_ms` and `cents` are for ONE render; `count` renders of them are asked for."""
    seconds_ms, cents = seconds_ms * count, cents * count
    limits = user_limits(user)
    reset = resets_at(month)
    um = UserMonth.objects.filter(user=user, month=month).first() or UserMonth(user=user, month=month)
    in_flight = UserSlots.objects.filter(user=user).values_list("in_flight", flat=True).first() or 0
    statuses = [
        _status(MONTHLY_SECONDS, limit=limits[MONTHLY_SECONDS], used=um.seconds_used_ms,
                reserved=um.seconds_reserved_ms, needed=seconds_ms, reset=reset, count=count),
        _status(MONTHLY_SPEND, limit=limits[MONTHLY_SPEND], used=um.spend_used_cents,
                reserved=um.spend_reserved_cents, needed=cents, reset=reset, count=count),
        _status(CONCURRENT_RENDERS, limit=limits[CONCURRENT_RENDERS], used=in_flight, reserved=0,
                needed=count, reset=None, count=count),
    ]
    if project is not None:
        budget = project_budget(project)
        pm = ProjectMonth.objects.filter(project=project, month=month).first() or ProjectMonth(month=month)
        statuses.append(_status(PROJECT_BUDGET, limit=budget, used=pm.spend_used_cents,
                                reserved=pm.spend_reserved_cents, needed=cents, reset=reset,
                                project_name=project.name, count=count))
    return tuple(statuses)


def estimate(user, project, *, model, size, seconds, count=1, keys=()):
    """The cost of a render and, per limit, where the user stands now (for the live estimate on the form);
    with `count`, each limit is asked for that many variations at once (as reserve_all asks). `keys`: the keys
    that may serve the render (renders.keypool.serving_keys): the cost is what reserve_all will reserve, at the
    highest of their prices."""
    lowest, price = price_range(model, size, keys)
    seconds_ms = int(seconds) * 1000
    cents = cost_cents(price, seconds_ms)
    month = month_of()
    return Estimate(
        model=model, size=size, seconds=int(seconds), price_per_second_usd=price, cost_usd=cents_to_usd(cents),
        month=month, resets_at=resets_at(month),
        limits=_limit_statuses(user, project, seconds_ms=seconds_ms, cents=cents, month=month, count=count),
        count=count, lowest_price_per_second_usd=lowest,
    )


# --- reserve, settle, refund ---------------------------------------------------------------------

def _ensure_row(model, month, **owner):
    # INSERT ... ON CONFLICT DO NOTHING on both backends: a concurrent first submit of the month waits on the
    # unique index, then finds the other's row; the guards below work on whichever row exists.
    if not model.objects.filter(month=month, **owner).exists():
        model.objects.bulk_create([model(month=month, **owner)], ignore_conflicts=True)


def _guarded_add(queryset, used, reserved, amount, limit, **also):
    """Add `amount` to the `reserved` column where used + reserved + amount <= limit (no limit: always).
    Returns whether a row took it. The WHERE clause is the guard; `also` are unguarded additions."""
    if limit is not None:
        queryset = queryset.filter(LessThanOrEqual(F(used) + F(reserved) + Value(amount), Value(limit)))
    changes = {reserved: F(reserved) + amount, **{field: F(field) + value for field, value in also.items()}}
    return queryset.update(**changes) == 1


def reserve(render, keys=()):
    """Reserve the render's seconds and money against every limit, or raise QuotaExceeded.

    Call inside the submit transaction, right after the Render row is created, with the keys that may serve it
    (renders.keypool.pool_for): the money is reserved at the highest of their prices (`reserve_price`). Sets and
    saves render.cost_estimate_usd. Returns the Reservation (the existing one if the render already has one)."""
    return reserve_all([render], keys)[0]


def reserve_all(renders, keys=()):
    """Reserve several renders of one submission (the variations of a prompt: one author, project, model, size
    and length) all or nothing: each limit's guard asks for all of them in ONE conditional UPDATE, so a limit
    with room for fewer refuses the whole submission (QuotaExceeded, its message saying how many would fit)
    and concurrent submissions can never take more than the room between them.

    Call inside the submit transaction, right after the Render rows are created, with the keys that may serve
    them (as `reserve`). Sets and saves each render's cost_estimate_usd. Returns their Reservations in the order
    given (a render that already has one keeps it and is not counted again)."""
    existing = {res.render_id: res for res in Reservation.objects.filter(render_id__in=[r.pk for r in renders])}
    asking = [render for render in renders if render.pk not in existing]
    if not asking:
        return [existing[render.pk] for render in renders]
    first = asking[0]
    if any((r.author_id, r.project_id, r.model, r.size, r.seconds) != (
            first.author_id, first.project_id, first.model, first.size, first.seconds) for r in asking):
        raise ValueError("Renders reserved together share their author, project, model, size and length.")
    count = len(asking)
    price = reserve_price(first.model, first.size, keys)
    seconds_ms = int(first.seconds) * 1000
    cents = cost_cents(price, seconds_ms)
    month = month_of()
    user_id, project_id = first.author_id, first.project_id
    limits = user_limits(first.author)
    budget = project_budget(first.project)
    budget_cents = None if budget is None else to_cents(budget)

    def refuse(code):
        # read after the failed guard, for the message only (the UPDATE's WHERE clause made the decision)
        statuses = _limit_statuses(first.author, first.project, seconds_ms=seconds_ms, cents=cents, month=month,
                                   count=count)
        raise QuotaExceeded(next(status for status in statuses if status.code == code))

    with transaction.atomic():  # a savepoint: a refusal by a later limit undoes the earlier ones
        # a fixed order (user month, user slots, project month) so concurrent submits never deadlock
        _ensure_row(UserMonth, month, user_id=user_id)
        user_month = UserMonth.objects.filter(user_id=user_id, month=month)
        seconds_limit = None if limits[MONTHLY_SECONDS] is None else limits[MONTHLY_SECONDS] * 1000
        if not _guarded_add(user_month, "seconds_used_ms", "seconds_reserved_ms", seconds_ms * count,
                            seconds_limit):
            refuse(MONTHLY_SECONDS)
        spend_limit = None if limits[MONTHLY_SPEND] is None else to_cents(limits[MONTHLY_SPEND])
        if not _guarded_add(user_month, "spend_used_cents", "spend_reserved_cents", cents * count, spend_limit):
            refuse(MONTHLY_SPEND)

        if not UserSlots.objects.filter(pk=user_id).exists():
            UserSlots.objects.bulk_create([UserSlots(user_id=user_id)], ignore_conflicts=True)
        slots = UserSlots.objects.filter(pk=user_id)
        if limits[CONCURRENT_RENDERS] is not None:
            slots = slots.filter(in_flight__lte=limits[CONCURRENT_RENDERS] - count)
        if slots.update(in_flight=F("in_flight") + count) != 1:
            refuse(CONCURRENT_RENDERS)

        _ensure_row(ProjectMonth, month, project_id=project_id)
        project_month = ProjectMonth.objects.filter(project_id=project_id, month=month)
        if not _guarded_add(project_month, "spend_used_cents", "spend_reserved_cents", cents * count, budget_cents,
                            seconds_reserved_ms=seconds_ms * count):
            refuse(PROJECT_BUDGET)

        # one reservation and one ledger entry per render: each is settled or refunded on its own
        for render in asking:
            existing[render.pk] = Reservation.objects.create(
                render_id=render.pk, user_id=user_id, project_id=project_id, month=month,
                price_per_second_usd=price, seconds_ms=seconds_ms, cents=cents)
            LedgerEntry.objects.create(
                render_id=render.pk, user_id=user_id, project_id=project_id, month=month,
                kind=LedgerEntry.Kind.RESERVE, seconds_reserved_ms=seconds_ms, spend_reserved_cents=cents, slots=1)
    for render in asking:
        render.cost_estimate_usd = cents_to_usd(cents)
        render.save(update_fields=["cost_estimate_usd"])
    return [existing[render.pk] for render in renders]


def _close(render, *, state, kind, charge, reason=""):
    """Move a held reservation to `state` once: release all it holds, charge `charge(reservation)` (ms, cents),
    free the slot. Returns the ledger entry, or None when the render was already closed (or never reserved)."""
    with transaction.atomic():
        # the claim: only one caller moves the reservation out of HELD; every rerun finds nothing to do
        claimed = Reservation.objects.filter(render_id=render.pk, state=Reservation.State.HELD).update(
            state=state, closed_at=timezone.now())
        if not claimed:
            return None
        res = Reservation.objects.get(render_id=render.pk)
        charged_ms, charged_cents = charge(res)
        deltas = {
            "seconds_reserved_ms": -res.seconds_ms, "seconds_used_ms": min(charged_ms, res.seconds_ms),
            "spend_reserved_cents": -res.cents, "spend_used_cents": min(charged_cents, res.cents),
        }
        changes = {field: F(field) + delta for field, delta in deltas.items()}
        # the same order as reserve() takes its row locks: user month, user slots, project month
        UserMonth.objects.filter(user_id=res.user_id, month=res.month).update(**changes)
        UserSlots.objects.filter(pk=res.user_id).update(in_flight=F("in_flight") - 1)
        ProjectMonth.objects.filter(project_id=res.project_id, month=res.month).update(**changes)
        return LedgerEntry.objects.create(
            render_id=render.pk, user_id=res.user_id, project_id=res.project_id, month=res.month, kind=kind,
            reason=reason[:200], slots=-1, **deltas)


def settle(render):
    """Charge the delivered seconds (render.delivered_seconds, read from the stored MP4) at the price of the key
    that made the render (`settlement_price`), release the rest of the reservation and free the concurrent slot;
    sets and saves render.charged_usd. A rerun is a no-op."""
    delivered = render.delivered_seconds
    if delivered is None:
        raise ValueError(f"Render {render.pk} has no delivered duration: read it from the stored video first.")

    held = Reservation.objects.filter(render_id=render.pk, state=Reservation.State.HELD).first()
    if held is None:
        log.info("settle: render %s holds no reservation; nothing to do", render.pk)
        return None
    price = settlement_price(render, held)
    reason = f"delivered {float(delivered):.2f} s of {render.seconds} s"
    if price < held.price_per_second_usd:
        reason += f" at {fmt_price(price)} a second ({render.api_key.name})"

    def charge(res):
        ms = billable_ms(delivered, res.seconds_ms)
        return ms, cost_cents(price, ms)

    entry = _close(render, state=Reservation.State.SETTLED, kind=LedgerEntry.Kind.SETTLE, charge=charge,
                   reason=reason)
    if entry is None:
        log.info("settle: render %s holds no reservation; nothing to do", render.pk)
        return None
    render.charged_usd = cents_to_usd(entry.spend_used_cents)
    render.save(update_fields=["charged_usd"])
    return entry


def refund(render, reason):
    """Release the whole reservation (failure, moderation, rejection, cancel, a key wait that ran out) and
    free the concurrent slot; sets and saves render.charged_usd = 0. A rerun is a no-op."""
    entry = _close(render, state=Reservation.State.REFUNDED, kind=LedgerEntry.Kind.REFUND,
                   charge=lambda res: (0, 0), reason=str(reason))
    if entry is None:
        log.info("refund: render %s holds no reservation; nothing to do", render.pk)
        return None
    render.charged_usd = Decimal("0.00")
    render.save(update_fields=["charged_usd"])
    return entry


# --- usage ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProjectUsage:
    project_id: int | None
    project_name: str
    renders: int
    seconds_used: Decimal
    seconds_reserved: Decimal
    spend_used_usd: Decimal
    spend_reserved_usd: Decimal


@dataclass(frozen=True)
class Usage:
    month: date
    resets_at: datetime
    projects: tuple[ProjectUsage, ...]
    total: ProjectUsage
    limits: tuple[LimitStatus, ...]  # the user's own limits (seconds, spend, renders in flight) now


_SUMS = {
    "seconds_used": Sum("seconds_used_ms", default=0), "seconds_reserved": Sum("seconds_reserved_ms", default=0),
    "spend_used": Sum("spend_used_cents", default=0), "spend_reserved": Sum("spend_reserved_cents", default=0),
    "renders": Sum("slots", filter=Q(kind=LedgerEntry.Kind.RESERVE), default=0),
}


def _project_usage(project_id, name, row):
    return ProjectUsage(
        project_id=project_id, project_name=name, renders=row["renders"],
        seconds_used=ms_to_seconds(row["seconds_used"]), seconds_reserved=ms_to_seconds(row["seconds_reserved"]),
        spend_used_usd=cents_to_usd(row["spend_used"]), spend_reserved_usd=cents_to_usd(row["spend_reserved"]),
    )


def usage(user, month=None):
    """A user's month (default: this one) summed from the ledger, per project and in total, with the user's
    limits as the ledger has them (the estimate reads the guard's counters; check_quotas keeps both equal)."""
    month = month_of() if month is None else month.replace(day=1)
    entries = LedgerEntry.objects.filter(user=user, month=month)
    rows = entries.values("project_id", "project__name").annotate(**_SUMS).order_by("project__name", "project_id")
    projects = tuple(_project_usage(row["project_id"], row["project__name"], row) for row in rows)
    sums = entries.aggregate(**_SUMS)
    in_flight = LedgerEntry.objects.filter(user=user).aggregate(n=Sum("slots", default=0))["n"]
    limits, reset = user_limits(user), resets_at(month)
    return Usage(
        month=month, resets_at=reset, projects=projects, total=_project_usage(None, "All projects", sums),
        limits=(
            _status(MONTHLY_SECONDS, limit=limits[MONTHLY_SECONDS], used=sums["seconds_used"],
                    reserved=sums["seconds_reserved"], needed=0, reset=reset),
            _status(MONTHLY_SPEND, limit=limits[MONTHLY_SPEND], used=sums["spend_used"],
                    reserved=sums["spend_reserved"], needed=0, reset=reset),
            _status(CONCURRENT_RENDERS, limit=limits[CONCURRENT_RENDERS], used=in_flight, reserved=0, needed=0,
                    reset=None),
        ),
    )
