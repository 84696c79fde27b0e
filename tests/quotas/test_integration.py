"""The books through the whole stack: a real Celery worker, real PostgreSQL and Redis, sorasim over HTTP and the
MP4 it delivers, read back from storage. sorasim's short-clip fault delivers 3/4 of the seconds asked."""

import time
from decimal import Decimal

import pytest
from django.core.management import call_command

from providers.models import ApiKey
from quotas.models import LedgerEntry, Reservation, UserMonth, UserSlots
from renders import actions
from renders.states import Status
from tests.fixtures.sorasim import API_KEY, MODERATE_WORD

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True),
              pytest.mark.project(name="Launch film")]


def wait_final(render, worker, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        render.refresh_from_db()
        if render.is_final:
            return render
        time.sleep(0.25)
    raise AssertionError(f"render {render.pk} is still {render.status}\n{worker.log()[-4000:]}")


@pytest.fixture
def sim(sorasim_shared):
    key = ApiKey(name="sorasim", base_url=sorasim_shared.api_url, rpm_limit=0, max_concurrent=0)
    key.secret = API_KEY
    key.save()
    sorasim_shared.control.set_key(API_KEY, webhook_urls=[])
    return sorasim_shared


def test_a_short_clip_is_charged_its_delivered_seconds(alice, project, sim, start_worker):
    sim.control.patch_faults(short_clip_rate=1.0)
    worker = start_worker()
    render = actions.submit(alice, project, prompt="A red fox running through fresh snow", model="sora-2-pro",
                             size="1280x720", seconds=8)  # $2.40 reserved
    wait_final(render, worker)
    assert render.status == Status.COMPLETED, render.error_message
    # 6 s delivered of 8 asked, read from the stored MP4 by the pipeline
    assert abs(render.delivered_seconds - Decimal("6")) < Decimal("0.1")
    assert render.charged_usd == Decimal("1.80")
    settled = LedgerEntry.objects.get(render=render, kind="settle")
    assert (settled.seconds_used_ms, settled.spend_used_cents) == (6000, 180)
    assert (settled.seconds_reserved_ms, settled.spend_reserved_cents) == (-8000, -240)
    um = UserMonth.objects.get(user=alice)
    assert (um.seconds_used_ms, um.spend_used_cents, um.seconds_reserved_ms, um.spend_reserved_cents) == (
        6000, 180, 0, 0)
    assert UserSlots.objects.get(user=alice).in_flight == 0
    call_command("check_quotas")


def test_a_render_the_provider_moderates_is_refunded(alice, project, sim, start_worker):
    worker = start_worker()
    render = actions.submit(alice, project, prompt=f"A {MODERATE_WORD} scene", model="sora-2", size="720x1280",
                             seconds=4)
    wait_final(render, worker)
    assert (render.status, render.error_code, render.charged_usd) == (Status.FAILED, "moderation_blocked", 0)
    assert Reservation.objects.get(render=render).state == "refunded"
    assert LedgerEntry.objects.get(render=render, kind="refund").reason == "moderation"
    um = UserMonth.objects.get(user=alice)
    assert (um.seconds_used_ms, um.spend_used_cents, um.seconds_reserved_ms, um.spend_reserved_cents) == (0, 0, 0, 0)
    assert UserSlots.objects.get(user=alice).in_flight == 0
    call_command("check_quotas")
