"""Variations: one submit makes 1 to 4 renders of the same prompt and settings, reserved all or nothing against
every limit; afterwards each is an ordinary render (its own create, cancel, refund). Through renders.actions, the
real submit service, on whichever database the suite runs on."""

import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from quotas import services
from quotas.models import LedgerEntry, ProjectBudget, ProjectMonth, Reservation, UserAllowance, UserMonth, UserSlots
from quotas.services import QuotaExceeded
from renders import actions
from renders.models import EventKind, Render
from renders.states import Status
from tests.fixtures.world import submit

pytestmark = [pytest.mark.django_db, pytest.mark.key(has_webhooks=True)]

SETTINGS = {"prompt": "A paper boat drifts down a rain gutter", "model": "sora-2", "size": "720x1280", "seconds": 4}


@pytest.fixture(autouse=True)
def _known_allowances(quota_defaults):
    """300 s, $50 and 3 renders in flight a month; no project budget."""


def books(user, project):
    """Everything a submit writes to the books, for "nothing changed" comparisons."""
    month = services.month_of()
    um = UserMonth.objects.filter(user=user, month=month).values_list(
        "seconds_reserved_ms", "spend_reserved_cents").first()
    pm = ProjectMonth.objects.filter(project=project, month=month).values_list(
        "seconds_reserved_ms", "spend_reserved_cents").first()
    return {
        "renders": Render.objects.count(), "reservations": Reservation.objects.count(),
        "ledger": LedgerEntry.objects.count(), "user_month": um, "project_month": pm,
        "in_flight": UserSlots.objects.filter(user=user).values_list("in_flight", flat=True).first() or 0,
    }


def test_three_variations_are_three_renders_of_one_group_each_reserved_and_enqueued(
        alice, project, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("renders.tasks.create_render.delay", lambda *args: sent.append(args[0]))
    with django_capture_on_commit_callbacks(execute=True):
        group = actions.submit_variations(alice, project, 3, **SETTINGS)
    assert [r.variation_number for r in group] == [1, 2, 3]
    for render in group:
        render.refresh_from_db()
        assert (render.prompt, render.model, render.size, render.seconds) == tuple(SETTINGS.values())
        assert render.variation_count == 3 and render.status == Status.SUBMITTING
        assert render.cost_estimate_usd == Decimal("0.40")
        assert Reservation.objects.get(render=render).state == Reservation.State.HELD
        event = render.events.get()
        assert event.kind == EventKind.SUBMITTED and f"(variation {render.variation_number} of 3)" in event.message
    assert len({r.variation_group for r in group}) == 1 and group[0].variation_group is not None
    # one create per render, each its own provider job; the history (newest first) reads 1, 2, 3
    assert sorted(sent) == sorted(r.pk for r in group)
    assert list(Render.objects.values_list("variation_number", flat=True)) == [1, 2, 3]
    assert UserSlots.objects.get(user=alice).in_flight == 3
    month = UserMonth.objects.get(user=alice)
    assert (month.seconds_reserved_ms, month.spend_reserved_cents) == (12000, 120)
    assert LedgerEntry.objects.filter(kind="reserve").count() == 3


def test_one_variation_is_a_plain_render_without_a_group(alice, project):
    (render,) = actions.submit_variations(alice, project, 1, **SETTINGS)
    assert render.variation_group is None and (render.variation_number, render.variation_count) == (1, 1)
    assert not render.is_variation
    assert submit(alice, project).variation_group is None


def test_with_room_for_two_renders_in_flight_three_variations_reserve_none(alice, project):
    submit(alice, project)  # 1 of 3 in flight
    before = books(alice, project)
    with pytest.raises(QuotaExceeded) as refused:
        actions.submit_variations(alice, project, 3, **SETTINGS)
    assert refused.value.limit.code == "concurrent_renders"
    assert str(refused.value) == ("Room for 2 more renders in flight (you may run 3 at once): choose 2 variations"
                                  " or fewer.")
    assert books(alice, project) == before  # nothing created, reserved or written to the ledger
    # and the two that fit are accepted, whole
    assert len(actions.submit_variations(alice, project, 2, **SETTINGS)) == 2
    assert UserSlots.objects.get(user=alice).in_flight == 3


def test_with_no_room_in_flight_the_refusal_says_to_wait(alice, project):
    actions.submit_variations(alice, project, 3, **SETTINGS)
    with pytest.raises(QuotaExceeded, match=r"^You already have 3 renders in flight, the most you may run at once"
                                            r" \(3\)\. Submit again when one of them finishes\.$"):
        actions.submit_variations(alice, project, 2, **SETTINGS)


def test_with_seconds_for_two_three_variations_reserve_none(alice, project):
    UserAllowance.objects.create(user=alice, monthly_seconds=10)
    before = books(alice, project)
    with pytest.raises(QuotaExceeded) as refused:
        actions.submit_variations(alice, project, 3, **SETTINGS)
    assert refused.value.limit.code == "monthly_seconds"
    assert str(refused.value) == ("Not enough video seconds left this month: 10 s of your 10 s remain and 3 variations"
                                  " need 12 s (4 s each). Choose 2 variations or fewer.")
    assert books(alice, project) == before


def test_with_money_for_one_the_refusal_says_choose_one(alice, project):
    UserAllowance.objects.create(user=alice, monthly_spend_usd=Decimal("0.50"))
    with pytest.raises(QuotaExceeded) as refused:
        actions.submit_variations(alice, project, 2, **SETTINGS)
    assert str(refused.value) == ("Not enough of your monthly spend left: $0.50 of $0.50 remains and 2 variations"
                                  " cost $0.80 ($0.40 each). Choose 1 variation.")
    assert not Render.objects.exists() and not LedgerEntry.objects.exists()


def test_a_project_budget_with_room_for_two_takes_none_of_three(alice, bob, project):
    ProjectBudget.objects.create(project=project, monthly_budget_usd=Decimal("1.00"))
    submit(bob, project)  # $0.40 of the shared $1.00
    before = books(alice, project)
    with pytest.raises(QuotaExceeded) as refused:
        actions.submit_variations(alice, project, 3, **SETTINGS)
    assert refused.value.limit.code == "project_budget"
    assert "$0.60 of $1.00 remains and 3 variations cost $1.20 ($0.40 each). Choose 1 variation." in str(refused.value)
    # the limits checked before the budget (alice's seconds, money and slots) are undone too
    assert books(alice, project) == before


@pytest.mark.parametrize("count", [0, 5, "two", None])
def test_it_refuses_a_count_outside_one_to_four(alice, project, count):
    with pytest.raises(ValidationError) as refused:
        actions.submit_variations(alice, project, count, **SETTINGS)
    assert refused.value.message_dict == {"variations": ["Choose from 1 to 4 variations."]}
    assert not Render.objects.exists()


def test_each_variation_is_an_ordinary_render_canceled_and_refunded_alone(alice, project):
    first, second, third = actions.submit_variations(alice, project, 3, **SETTINGS)
    actions.cancel(second, alice)
    second.refresh_from_db()
    assert second.status == Status.CANCELED
    states = dict(Reservation.objects.values_list("render_id", "state"))
    assert states == {first.pk: "held", second.pk: "refunded", third.pk: "held"}
    assert UserSlots.objects.get(user=alice).in_flight == 2
    # a retry of a variation is a render of its own, outside the group
    again = actions.retry(second, alice)
    assert again.variation_group is None and again.retry_of == second


def test_each_variation_keeps_its_own_copy_of_the_reference_image(alice, project):
    buf = io.BytesIO()
    Image.new("RGB", (720, 1280), (20, 90, 200)).save(buf, "PNG")
    image = SimpleUploadedFile("ref.png", buf.getvalue())
    group = actions.submit_variations(alice, project, 2, reference_image=image, **SETTINGS)
    names = {render.reference_image.name for render in group}
    assert len(names) == 2 and all(names)
