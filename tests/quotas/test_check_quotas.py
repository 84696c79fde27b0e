from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F

from quotas import services
from quotas.models import LedgerEntry, ProjectMonth, Reservation, UserMonth, UserSlots

pytestmark = [pytest.mark.django_db, pytest.mark.project(name="Launch film")]


@pytest.fixture
def books(alice, bob, reserve_render):
    """A month with every kind of entry: held, settled short, refunded, two users."""
    done = reserve_render(alice, seconds=8)
    done.delivered_seconds = Decimal("6.2")
    services.settle(done)
    services.refund(reserve_render(bob, seconds=4), services.RefundReason.MODERATION)
    return reserve_render(alice, model="sora-2-pro", size="1792x1024", seconds=4)


def check():
    out = StringIO()
    call_command("check_quotas", stdout=out)
    return out.getvalue()


def check_fails():
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("check_quotas", stdout=out)
    return out.getvalue(), str(failed.value)


def test_it_passes_when_the_books_balance(books):
    assert "The quota books balance: 2 user-months, 1 project-months, 2 users checked." in check()


def test_it_catches_a_user_counter_that_drifted(books, alice):
    UserMonth.objects.filter(user=alice).update(seconds_used_ms=F("seconds_used_ms") + 1500)
    out, error = check_fails()
    month = services.month_of()
    assert f"MISMATCH user alice, {month:%Y-%m}: seconds_used_ms counter 7.7 s, ledger 6.2 s" in out
    assert error.startswith("The quota books do not balance: 1 difference(s)")


def test_it_catches_a_project_counter_that_drifted(books, project):
    ProjectMonth.objects.filter(project=project).update(spend_reserved_cents=0)
    out, _ = check_fails()
    assert "MISMATCH project Launch film" in out
    assert "spend_reserved_cents counter $0.00, ledger $2.00" in out


def test_it_catches_a_lost_ledger_entry(books):
    LedgerEntry.objects.filter(kind="settle").delete()
    out, error = check_fails()
    assert "seconds_used_ms counter 6.2 s, ledger 0 s" in out
    assert "renders in flight counter 1, ledger 2, held reservations 1" in out
    assert "reservation is settled but the ledger has reserve" in out


def test_it_catches_a_slot_that_was_never_freed(books, bob):
    UserSlots.objects.filter(user=bob).update(in_flight=1)
    out, _ = check_fails()
    assert "MISMATCH user bob: renders in flight counter 1, ledger 0, held reservations 0" in out


def test_it_catches_a_reservation_closed_behind_the_ledgers_back(books):
    Reservation.objects.filter(state="held").update(state="refunded")
    out, _ = check_fails()
    assert "reservation is refunded but the ledger has reserve" in out
