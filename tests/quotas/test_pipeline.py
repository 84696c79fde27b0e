"""The render pipeline keeps the books: every way a render can end moves its reservation exactly once.

These go through renders.actions, renders.lifecycle and renders.pipeline (the real callers of reserve, settle and
refund); the provider is never reached (no key, or the render ends before its create)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from providers.models import ApiKey
from quotas.models import LedgerEntry, Reservation, UserMonth, UserSlots
from quotas.services import QuotaExceeded
from renders import actions, lifecycle, pipeline
from renders.models import Render
from renders.states import Status
from tests.fixtures.world import submit

pytestmark = [pytest.mark.django_db, pytest.mark.project(name="Launch film")]


@pytest.fixture
def submit_render(project):
    def submit_to_project(user, **options):
        return submit(user, project, "A lighthouse at dusk", **{"size": "1280x720", "seconds": 8, **options})

    return submit_to_project


def books(render):
    reservation = Reservation.objects.get(render=render)
    closing = LedgerEntry.objects.filter(render=render).exclude(kind="reserve").first()
    return reservation.state, closing.reason if closing else None


def assert_all_released(user):
    um = UserMonth.objects.get(user=user)
    assert (um.seconds_reserved_ms, um.spend_reserved_cents, um.seconds_used_ms, um.spend_used_cents) == (0, 0, 0, 0)
    assert UserSlots.objects.get(user=user).in_flight == 0
    call_command("check_quotas")


def test_submit_reserves_and_a_refusal_creates_nothing(alice, submit_render, allowance):
    allowance(alice, monthly_seconds=12)
    render = submit_render(alice)
    assert books(render) == ("held", None)
    render.refresh_from_db()
    assert render.cost_estimate_usd == Decimal("0.80")
    with pytest.raises(QuotaExceeded, match="4 s of your 12 s remain and this render needs 8 s"):
        submit_render(alice)
    assert Render.objects.count() == 1


def test_cancel_refunds(alice, submit_render):
    render = submit_render(alice)
    actions.cancel(render, alice)
    assert books(render) == ("refunded", "canceled")
    assert_all_released(alice)


@pytest.mark.parametrize(("code", "reason"), [
    ("moderation_blocked", "moderation"),
    ("invalid_request", "rejected"),
    ("provider_unavailable", "failed"),
])
def test_a_failure_refunds_with_its_reason(alice, submit_render, code, reason):
    render = submit_render(alice)
    assert lifecycle.mark_failed(render, code, "", source="worker")
    assert books(render) == ("refunded", reason)
    render.refresh_from_db()
    assert (render.status, render.charged_usd) == (Status.FAILED, Decimal("0"))
    assert_all_released(alice)


def test_a_render_waiting_for_a_key_holds_its_reservation_until_the_maximum_wait(alice, submit_render, settings):
    settings.RENDER_MAX_KEY_WAIT_SECONDS = 600
    render = submit_render(alice)  # no provider key exists: nothing can take it
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    assert render.status == Status.WAITING
    assert books(render) == ("held", None)
    assert UserSlots.objects.get(user=alice).in_flight == 1

    Render.objects.filter(pk=render.pk).update(created_at=timezone.now() - timedelta(seconds=601), heartbeat_at=None)
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    assert (render.status, render.error_code) == (Status.FAILED, "no_usable_key")
    assert books(render) == ("refunded", "no_usable_key")
    assert_all_released(alice)


def test_completion_charges_the_delivered_seconds(alice, submit_render):
    render = submit_render(alice, model="sora-2-pro", size="1792x1024", seconds=12)  # $6.00 reserved
    Render.objects.filter(pk=render.pk).update(status=Status.DOWNLOADING)
    render.refresh_from_db()
    assert lifecycle.complete_render(render, Decimal("9.48"))  # a short clip
    render.refresh_from_db()
    assert (render.status, render.delivered_seconds, render.charged_usd) == (
        Status.COMPLETED, Decimal("9.480"), Decimal("4.75"))
    um = UserMonth.objects.get(user=alice)
    assert (um.seconds_used_ms, um.spend_used_cents, um.seconds_reserved_ms, um.spend_reserved_cents) == (
        9500, 475, 0, 0)
    assert not lifecycle.complete_render(render, Decimal("12"))  # a late duplicate changes nothing
    assert um.spend_used_cents == UserMonth.objects.get(user=alice).spend_used_cents
    call_command("check_quotas")


def test_a_retry_and_a_remix_are_charged_like_any_render(alice, submit_render):
    failed = submit_render(alice, seconds=4)
    lifecycle.mark_failed(failed, "provider_unavailable", "", source="worker")
    again = actions.retry(failed, alice)
    assert books(again) == ("held", None)

    key = ApiKey(name="sim", base_url="http://127.0.0.1:9/v1")
    key.secret = "sk-test-0000"
    key.save()
    parent = submit_render(alice, model="sora-2-pro", size="1024x1792", seconds=12)
    Render.objects.filter(pk=parent.pk).update(status=Status.COMPLETED, api_key=key, provider_video_id="video_1")
    parent.refresh_from_db()
    remix = actions.submit(alice, parent.project, prompt="Now at night", remix_of=parent)
    assert Reservation.objects.get(render=remix).cents == 600  # the parent's model, size and length
    um = UserMonth.objects.get(user=alice)
    assert um.spend_reserved_cents == 40 + 600 + 600
    call_command("check_quotas")
