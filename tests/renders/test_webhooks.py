"""The webhook endpoint: verified first on the raw body; bad or stale deliveries get 400 and write nothing;
a delivery has one effect however often (and however concurrently) it arrives."""

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone
from standardwebhooks import Webhook

from renders import reconcile
from renders.models import WebhookDelivery
from renders.states import Status

SECRET = "whsec_RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c="
OTHER_SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="

pytestmark = pytest.mark.key(has_webhooks=True, webhook_secret=SECRET)
TOLERANCE = 300  # standardwebhooks' window around the receiver's clock, in seconds
MARGIN = 60  # timestamps sit this far outside (or inside) the window: no pause of the test can cross it


def body_for(video_id="video_abc", event_type="video.completed"):
    return json.dumps({"id": "evt_1", "object": "event", "created_at": int(time.time()), "type": event_type,
                       "data": {"id": video_id}})


def signed(body, *, secret=SECRET, msg_id="wh_1", at=None):
    at = int(time.time()) if at is None else at
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(at, tz=UTC), body)
    return {"webhook-id": msg_id, "webhook-timestamp": str(at), "webhook-signature": signature}


def post(client, key, body, headers):
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    return client.post(f"/webhooks/{key.webhook_uuid}/", body, content_type="application/json", **extra)


@pytest.fixture
def enqueued(monkeypatch):
    calls = []
    monkeypatch.setattr("renders.tasks.apply_webhook.delay", lambda *a: calls.append(a))
    return calls


@pytest.mark.django_db
def test_it_accepts_a_valid_delivery_stores_it_and_enqueues_the_fetch(
        client, key, enqueued, django_capture_on_commit_callbacks):
    body = body_for()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, key, body, signed(body))
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert (delivery.api_key, delivery.webhook_id, delivery.video_id, delivery.event_type) == (
        key, "wh_1", "video_abc", "video.completed")
    assert delivery.applied_at is None
    assert enqueued == [(delivery.pk,)]


def _bad_cases(key):
    body = body_for()
    now = int(time.time())
    good = signed(body)
    return {
        "missing headers": (body, {}),
        "missing signature": (body, {k: v for k, v in good.items() if k != "webhook-signature"}),
        "bad signature": (body, signed(body, secret=OTHER_SECRET)),
        "too old": (body, signed(body, at=now - TOLERANCE - MARGIN)),
        "in the future": (body, signed(body, at=now + TOLERANCE + MARGIN)),
        "tampered body": (body.replace("video_abc", "video_xyz"), good),
        "malformed signature": (body, {**good, "webhook-signature": "garbage"}),
        "bad base64": (body, {**good, "webhook-signature": "v1,@@@"}),
        "bad timestamp": (body, {**good, "webhook-timestamp": "soon"}),
    }


@pytest.mark.timing("deliveries signed 60 s outside the 300 s tolerance")
@pytest.mark.django_db
@pytest.mark.parametrize("case", list(_bad_cases(None)))
def test_it_refuses_a_bad_delivery_with_400_a_log_line_and_no_write(client, key, enqueued, case, caplog):
    body, headers = _bad_cases(key)[case]
    with caplog.at_level("WARNING", logger="renders.webhooks"):
        response = post(client, key, body, headers)
    assert response.status_code == 400
    assert not WebhookDelivery.objects.exists()
    assert enqueued == []
    assert any("webhook refused" in record.getMessage() for record in caplog.records)


@pytest.mark.timing("deliveries signed 60 s inside the 300 s tolerance")
@pytest.mark.django_db
@pytest.mark.parametrize("offset", [-(TOLERANCE - MARGIN), TOLERANCE - MARGIN], ids=["4 min old", "4 min ahead"])
def test_it_accepts_a_delivery_signed_well_inside_the_tolerance(client, key, enqueued, offset):
    body = body_for()
    response = post(client, key, body, signed(body, at=int(time.time()) + offset))
    assert response.status_code == 200
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.django_db
def test_it_refuses_an_unknown_key_uuid(client, key, enqueued):
    body = body_for()
    response = client.post("/webhooks/00000000-0000-4000-8000-000000000000/", body,
                           content_type="application/json",
                           **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in signed(body).items()})
    assert response.status_code == 400
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_get(client, key):
    assert client.get(f"/webhooks/{key.webhook_uuid}/").status_code == 405


@pytest.mark.django_db
def test_it_accepts_a_header_with_two_signatures_of_which_one_is_valid(client, key, enqueued):
    body = body_for()
    headers = signed(body)
    wrong = signed(body, secret=OTHER_SECRET)["webhook-signature"]
    headers["webhook-signature"] = f"{wrong} {headers['webhook-signature']}"
    assert post(client, key, body, headers).status_code == 200
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.django_db
def test_the_same_delivery_twice_has_one_effect(client, key, enqueued, django_capture_on_commit_callbacks):
    body = body_for()
    with django_capture_on_commit_callbacks(execute=True):
        first = post(client, key, body, signed(body))
    with django_capture_on_commit_callbacks(execute=True):
        # the sender's retry: the same webhook-id, signed afresh with a new timestamp
        again = post(client, key, body, signed(body, at=int(time.time()) + 1))
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == {"status": "duplicate"}
    assert WebhookDelivery.objects.count() == 1
    assert len(enqueued) == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_delivery_concurrently_has_one_effect(key, enqueued):
    body = body_for()
    headers = signed(body, msg_id="wh_race")
    barrier = threading.Barrier(6)
    results = []

    def deliver():
        from django.db import connection

        try:
            barrier.wait()
            results.append(post(Client(), key, body, headers).json()["status"])
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["accepted"] + ["duplicate"] * 5
    assert WebhookDelivery.objects.count() == 1
    assert len(enqueued) == 1


@pytest.mark.django_db
def test_a_delivery_the_broker_refuses_is_kept_and_its_render_is_due_at_once(
        client, key, make_render, monkeypatch, django_capture_on_commit_callbacks):
    def broker_down(*args):
        raise ConnectionRefusedError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("renders.tasks.apply_webhook.delay", broker_down)
    later = timezone.now() + timedelta(seconds=300)  # the safety-net poll
    render = make_render(Status.IN_PROGRESS, api_key=key, provider_video_id="video_abc", next_attempt_at=later)
    other = make_render(Status.IN_PROGRESS, api_key=key, provider_video_id="video_other", next_attempt_at=later)
    body = body_for()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, key, body, signed(body))
    assert response.status_code == 200 and response.json() == {"status": "accepted"}
    assert WebhookDelivery.objects.get().applied_at is None  # kept for the reconciler
    render.refresh_from_db()
    other.refresh_from_db()
    assert render.next_attempt_at <= timezone.now()  # the dispatcher polls it as soon as the broker is back
    assert other.next_attempt_at == later


@pytest.mark.django_db
def test_the_reconciler_queues_stranded_deliveries_again(key, make_render, enqueued, settings):
    settings.RENDER_WEBHOOK_REQUEUE_AFTER_SECONDS = 30
    render = make_render(Status.IN_PROGRESS, api_key=key, provider_video_id="video_abc")
    old = timezone.now() - timedelta(seconds=31)

    def stored(webhook_id, video_id, **fields):
        return WebhookDelivery.objects.create(api_key=key, webhook_id=webhook_id, video_id=video_id,
                                              event_type="video.completed", **fields)

    stranded = stored("wh_stranded", "video_abc", received_at=old)
    stored("wh_recent", "video_abc")  # its task may still be on its way
    stored("wh_applied", "video_abc", received_at=old, applied_at=old, render=render)
    stored("wh_no_render", "video_nobody_has", received_at=old)  # kept until a render takes that id
    assert reconcile.requeue_stranded_webhooks() == 1
    assert enqueued == [(stranded.pk,)]
