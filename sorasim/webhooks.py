"""Signed webhook deliveries (`video.completed`, `video.failed`) to each key's endpoints, with retries and faults.

Standard Webhooks: the `webhook-id` stays the same across retries (and for a duplicated delivery), while each
attempt is signed afresh with a new `webhook-timestamp`, so a retry hours later still passes a receiver's 300 s
window. Non-2xx answers and timeouts are retried with exponential backoff (--webhook-initial-backoff, doubling,
capped at an hour) for --webhook-retry-seconds. Pending deliveries are kept in the job's file and resumed after
a restart.
"""

import asyncio
import json
import logging
import secrets
import time
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

log = logging.getLogger("sorasim.webhooks")
MAX_BACKOFF = 3600.0


class WebhookSender:
    def __init__(self, sim):
        self.sim = sim
        self.client = None
        self.tasks = set()
        self.held = {}  # url -> deliveries waiting for the reorder window to close

    async def start(self):
        self.client = httpx.AsyncClient(timeout=self.sim.config.webhook_timeout, follow_redirects=False)

    async def close(self):
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.client is not None:
            await self.client.aclose()

    def _spawn(self, coro):
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def emit(self, job, event_type):
        """Record one delivery per endpoint of the job's key and start sending them."""
        key = self.sim.store.keys.get(job.key)
        urls = list(key.webhook_urls) if key and self.sim.key_dialect(key) == "openai" else []  # gateways: none
        if not urls:
            return
        event = {
            "id": "evt_" + secrets.token_hex(16),
            "object": "event",
            "created_at": int(time.time()),
            "type": event_type,
            "data": {"id": job.id},
        }
        payload = json.dumps(event)
        msg_id = "wh_" + secrets.token_hex(16)
        fresh = []
        for url in urls:
            delivery = {
                "msg_id": msg_id,
                "type": event_type,
                "url": url,
                "payload": payload,
                "state": "pending",
                "attempts": 0,
                "first_attempt_at": None,
                "duplicate": False,
            }
            if self.sim.fire("webhook_drop", self.sim.faults.webhook_drop_rate, job.key):
                delivery["state"] = "dropped"
            else:
                delivery["duplicate"] = self.sim.fire(
                    "webhook_duplicate", self.sim.faults.webhook_duplicate_rate, job.key
                )
                fresh.append(delivery)
            job.webhooks.append(delivery)
        self.sim.store.save_job(job)
        for delivery in fresh:
            self._schedule(job, delivery)

    def resume(self, job):
        """After a restart: carry on with the deliveries that were still pending."""
        for delivery in job.webhooks:
            if delivery["state"] == "pending":
                self._spawn(self._deliver(job, delivery))

    def _schedule(self, job, delivery):
        if not self.sim.faults.webhook_reorder:
            self._spawn(self._deliver(job, delivery))
            return
        url = delivery["url"]
        batch = self.held.get(url)
        if batch is None:
            batch = self.held[url] = []
            asyncio.get_running_loop().call_later(self.sim.faults.webhook_reorder_window, self._flush, url, batch)
        batch.append((job, delivery))

    def _flush(self, url, batch):
        if self.held.get(url) is batch:
            del self.held[url]
        for job, _ in batch[:-1]:  # every delivery but the newest is overtaken
            self.sim.counters[job.key].faults_fired["webhook_reorder"] += 1
        self._spawn(self._send_newest_first(list(reversed(batch))))

    async def _send_newest_first(self, batch):
        # one at a time, each waiting for its answer: the receiver sees them in exactly this order
        for job, delivery in batch:
            ok = await self._attempt(job, delivery)
            self._spawn(self._deliver(job, delivery, first_ok=ok))

    async def _deliver(self, job, delivery, first_ok=None, copy=False):
        ok = first_ok if first_ok is not None else await self._attempt(job, delivery)
        while not ok:
            backoff = min(self.sim.config.webhook_initial_backoff * 2 ** max(0, delivery["attempts"] - 1), MAX_BACKOFF)
            if time.time() + backoff - delivery["first_attempt_at"] > self.sim.config.webhook_retry_seconds:
                self.sim.counters[job.key].webhooks_failed += 1
                if not copy:
                    delivery["state"] = "failed"
                    self.sim.store.save_job(job)
                log.warning(
                    "webhook %s to %s given up after %d attempts",
                    delivery["msg_id"],
                    delivery["url"],
                    delivery["attempts"],
                )
                return
            await asyncio.sleep(backoff)
            ok = await self._attempt(job, delivery)
        if copy:
            return
        delivery["state"] = "delivered"
        self.sim.store.save_job(job)
        if delivery["duplicate"]:
            twin = dict(delivery, attempts=0, first_attempt_at=None)
            self._spawn(self._deliver(job, twin, copy=True))

    async def _attempt(self, job, delivery):
        key = self.sim.store.keys.get(job.key)
        secret = key.webhook_secret if key else None
        now = time.time()
        delivery["attempts"] += 1
        if delivery["first_attempt_at"] is None:
            delivery["first_attempt_at"] = now
        self.sim.counters[job.key].webhooks_sent += 1
        if not secret:
            return False
        timestamp = datetime.fromtimestamp(now, UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": "sorasim-webhooks",
            "webhook-id": delivery["msg_id"],
            "webhook-timestamp": str(int(now)),
            "webhook-signature": Webhook(secret).sign(delivery["msg_id"], timestamp, delivery["payload"]),
        }
        try:
            response = await self.client.post(delivery["url"], content=delivery["payload"].encode(), headers=headers)
        except (httpx.HTTPError, OSError) as exc:
            log.info("webhook %s to %s: %s", delivery["msg_id"], delivery["url"], exc)
            return False
        if 200 <= response.status_code < 300:
            self.sim.counters[job.key].webhooks_delivered += 1
            return True
        log.info("webhook %s to %s: HTTP %s", delivery["msg_id"], delivery["url"], response.status_code)
        return False
