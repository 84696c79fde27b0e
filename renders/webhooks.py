"""Signed webhooks from providers: POST /webhooks/<key uuid>/ (Standard Webhooks).

Verify first, on the raw body, with that key's secret (standardwebhooks: 300 s tolerance, any one of several
signatures); a bad or stale delivery gets 400, a log line and no database write. A verified delivery is stored
once per `webhook-id` (a unique constraint: the sender retries with the same id, also concurrently), then a
task fetches the job and applies it. The view itself does one lookup and one insert: well under a second.
"""

import binascii
import logging

from django.db import IntegrityError, transaction
from django.http import HttpResponseBadRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from providers.models import ApiKey
from renders import enqueue
from renders.models import Render, WebhookDelivery
from renders.states import AT_PROVIDER

log = logging.getLogger(__name__)

HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def _refuse(key_uuid, reason):
    log.warning("webhook refused for key %s: %s", key_uuid, reason)
    return HttpResponseBadRequest(f"webhook refused: {reason}\n", content_type="text/plain")


def apply_soon(delivery):
    """Queue the delivery's task. With the broker down (Redis restarting) the delivery is stored and answered all
    the same, and its render is made due now: the dispatcher, which tries every tick, polls it the moment the
    broker is back (not at the safety-net poll minutes later); the reconciler queues the delivery itself again."""
    try:
        enqueue.send("apply_webhook", delivery.pk)
    except Exception:  # any refusal of the broker: the delivery is kept, the render is due
        log.warning("webhook %s: the broker refused its task; its render is polled once the broker is back",
                    delivery.webhook_id, exc_info=True)
        Render.objects.filter(api_key_id=delivery.api_key_id, provider_video_id=delivery.video_id,
                              status__in=AT_PROVIDER).update(next_attempt_at=timezone.now())


@csrf_exempt
@require_POST
def webhook(request, key_uuid):
    key = ApiKey.objects.filter(webhook_uuid=key_uuid).first()
    if key is None:
        return _refuse(key_uuid, "unknown endpoint")
    secret = key.webhook_secret
    if not secret:
        return _refuse(key_uuid, "no webhook secret is configured for this key")
    headers = {name: request.headers.get(name, "") for name in HEADERS}
    body = request.body
    try:
        payload = Webhook(secret).verify(body, headers)
    except WebhookVerificationError as exc:
        return _refuse(key_uuid, str(exc))
    except (ValueError, binascii.Error, UnicodeDecodeError, TypeError) as exc:
        # a malformed signature header or body: the library raises these before it can say "no match"
        return _refuse(key_uuid, f"malformed delivery ({type(exc).__name__})")
    if not isinstance(payload, dict):
        return _refuse(key_uuid, "the payload is not a JSON object")

    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    video_id = str(data.get("id") or "")[:100]
    event_type = str(payload.get("type") or "")[:64]
    webhook_id = headers["webhook-id"][:200]
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                api_key=key, webhook_id=webhook_id, event_type=event_type, video_id=video_id, payload=payload,
            )
            if video_id:
                transaction.on_commit(lambda: apply_soon(delivery))
    except IntegrityError:
        # the same delivery again (a retry, or a concurrent duplicate): it has had its one effect
        return JsonResponse({"status": "duplicate"})
    return JsonResponse({"status": "accepted"})

