"""The books must balance: every counter equals the sum of the ledger's deltas, and every reservation agrees
with its ledger entries. Used by `manage.py check_quotas`."""

from collections import defaultdict

from django.db import connection, transaction
from django.db.models import Count, Sum

from quotas.models import LedgerEntry, ProjectMonth, Reservation, UserMonth, UserSlots

AMOUNTS = ("seconds_used_ms", "seconds_reserved_ms", "spend_used_cents", "spend_reserved_cents")
ZERO = dict.fromkeys(AMOUNTS, 0)


def _fmt(field, value):
    if field.endswith("_ms"):
        return f"{value / 1000:g} s"
    if field.endswith("_cents"):
        return f"${value / 100:,.2f}"
    return str(value)


def _compare(label, counters, ledger, problems):
    """Counters and ledger sums keyed alike; a key on one side only is compared with zeros."""
    for key in sorted(set(counters) | set(ledger), key=str):
        have, want = counters.get(key, ZERO), ledger.get(key, ZERO)
        for field in AMOUNTS:
            if have[field] != want[field]:
                problems.append(f"{label(key)}: {field} counter {_fmt(field, have[field])},"
                                f" ledger {_fmt(field, want[field])}")
            if have[field] < 0:
                problems.append(f"{label(key)}: {field} is negative ({_fmt(field, have[field])})")


def _ledger_sums(owner):
    rows = LedgerEntry.objects.values(owner, "month").annotate(**{f: Sum(f) for f in AMOUNTS}).order_by()
    return {(row[owner], row["month"]): row for row in rows}


def imbalances():
    """(problems, checked): every disagreement between counters and ledger as a sentence (none when the books
    balance), and how many rows of each kind were checked.
    Reads one snapshot (REPEATABLE READ on PostgreSQL; on SQLite one transaction, which the site's IMMEDIATE
    mode makes hold off writers for the moment it takes), so renders submitted meanwhile raise no false alarm."""
    problems = []
    outermost = not connection.in_atomic_block  # inside a caller's transaction, that one's snapshot rules
    with transaction.atomic():
        if connection.vendor == "postgresql" and outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        User = UserMonth._meta.get_field("user").related_model
        user_names = dict(User.objects.values_list("pk", User.USERNAME_FIELD))
        project_names = dict(ProjectMonth._meta.get_field("project").related_model.objects.values_list("id", "name"))

        users = {(row["user_id"], row["month"]): row for row in UserMonth.objects.values("user_id", "month", *AMOUNTS)}
        _compare(lambda key: f"user {user_names.get(key[0], key[0])}, {key[1]:%Y-%m}", users,
                 _ledger_sums("user_id"), problems)
        projects = {(row["project_id"], row["month"]): row
                    for row in ProjectMonth.objects.values("project_id", "month", *AMOUNTS)}
        _compare(lambda key: f"project {project_names.get(key[0], key[0])}, {key[1]:%Y-%m}", projects,
                 _ledger_sums("project_id"), problems)

        # renders in flight: the slot counter, the ledger's slot sum and the held reservations must agree
        slots = dict(UserSlots.objects.values_list("user_id", "in_flight"))
        ledger_slots = dict(LedgerEntry.objects.values("user_id").annotate(n=Sum("slots")).values_list("user_id", "n"))
        held = dict(Reservation.objects.filter(state=Reservation.State.HELD).values("user_id")
                    .annotate(n=Count("id")).values_list("user_id", "n"))
        for user_id in sorted(set(slots) | set(ledger_slots) | set(held)):
            counts = (slots.get(user_id, 0), ledger_slots.get(user_id, 0), held.get(user_id, 0))
            if len(set(counts)) > 1:
                problems.append(f"user {user_names.get(user_id, user_id)}: renders in flight counter {counts[0]},"
                                f" ledger {counts[1]}, held reservations {counts[2]}")

        # each reservation: its reserve entry carries its amounts, and it is closed exactly when the ledger says so
        entries = defaultdict(dict)
        for entry in LedgerEntry.objects.values("render_id", "kind", "seconds_reserved_ms", "spend_reserved_cents"):
            entries[entry["render_id"]][entry["kind"]] = entry
        for res in Reservation.objects.values("render_id", "state", "seconds_ms", "cents"):
            kinds = entries.pop(res["render_id"], {})
            opened = kinds.get(LedgerEntry.Kind.RESERVE)
            if opened is None or (opened["seconds_reserved_ms"], opened["spend_reserved_cents"]) != (
                    res["seconds_ms"], res["cents"]):
                problems.append(f"render {res['render_id']}: its reserve entry does not match its reservation")
            closing = {LedgerEntry.Kind.SETTLE: Reservation.State.SETTLED, LedgerEntry.Kind.REFUND:
                       Reservation.State.REFUNDED}
            closed_as = [closing[kind] for kind in kinds if kind in closing]
            if closed_as != ([] if res["state"] == Reservation.State.HELD else [res["state"]]):
                problems.append(f"render {res['render_id']}: reservation is {res['state']} but the ledger has"
                                f" {', '.join(sorted(kinds)) or 'no entries'}")
        for render_id in sorted(entries):
            problems.append(f"render {render_id}: ledger entries without a reservation")
        checked = {"user-months": len(users), "project-months": len(projects), "users": len(slots)}
    return problems, checked
