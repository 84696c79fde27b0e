"""The simulator's core: keys, limits, money, fault dice and the life of each job.

Request handlers call the synchronous methods here (no awaits between a check and its change, so the event
loop makes them atomic); each accepted job gets one asyncio task that encodes its media and finishes it.
"""

import asyncio
import collections
import contextlib
import copy
import logging
import math
import random
import shutil
import tempfile
import time
from pathlib import Path

from . import dialects, media
from .errors import ApiError
from .state import MICROS, QUEUED_FRACTION, TERMINAL, Counters, Job, KeyState, Store, new_webhook_secret
from .webhooks import WebhookSender

log = logging.getLogger("sorasim")

# USD per second of video (the reference prices): sora-2 720p; sora-2-pro 720p, the large sizes and 1080p
PRICES = {"sora-2": 0.10, "sora-2-pro": 0.30, "sora-2-pro-large": 0.50, "sora-2-pro-1080p": 0.70}
LARGE_SIZES = ("1024x1792", "1792x1024")
HD_SIZES = ("1920x1080", "1080x1920")
ENCODE_LEAD = {"fast": 5.0, "real": 30.0}  # seconds before a job's end its encode starts (at once if sooner)


def price_micros(family, size, seconds):
    if family == "sora-2-pro" and size in LARGE_SIZES:
        family = "sora-2-pro-large"
    elif family == "sora-2-pro" and size in HD_SIZES:
        family = "sora-2-pro-1080p"
    return round(PRICES[family] * MICROS) * int(seconds)


def format_duration(seconds):
    """Like the provider's x-ratelimit-reset-* values: `850ms`, `12.5s`, `6m0s`."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".")
    return f"{int(minutes)}m{text}s" if minutes else f"{text}s"


class Simulator:
    def __init__(self, config):
        self.config = config
        self.initial_faults = copy.deepcopy(config.faults)
        self.faults = copy.deepcopy(config.faults)
        self._tmp_media = None
        if config.data_dir:
            media_root = Path(config.data_dir) / "media"
        else:
            self._tmp_media = tempfile.mkdtemp(prefix="sorasim-media-")
            media_root = Path(self._tmp_media)
        self.store = Store(media_root, config.data_dir)
        self.counters = Counters()
        self.webhooks = WebhookSender(self)
        self._rngs = {}
        self.tasks = set()
        self._wakeups = {}  # job id -> asyncio.Event set when `advance` moves that job's timeline
        self.encoding = set()  # live ffmpeg processes
        self.semaphore = None
        self.pillow = None
        self.started_at = time.time()
        self.loop_lags = collections.deque(maxlen=1200)  # the last minute of event-loop lag samples

    # lifecycle
    async def start(self):
        self.semaphore = asyncio.Semaphore(self.config.encode_workers)
        self.pillow = media.pillow_pool(1)  # Pillow work is short; its process starts on first use
        self.store.load()
        for name in self.config.api_keys:
            if name not in self.store.keys:
                self.store.keys[name] = self.new_key(name)
            else:
                self._apply_start_options(self.store.keys[name])
        self.store.save_keys()
        await self.webhooks.start()
        now = time.time()
        for job in self.store.jobs.values():
            if job.deleted:
                continue
            if job.status not in TERMINAL:
                self.spawn(self._drive(job))
            elif job.status == "completed":
                self._schedule_expiry(job, now)
            self.webhooks.resume(job)
        self.spawn(self._watch_loop())
        log.info(
            "sorasim ready: %d keys, %d jobs, media %s", len(self.store.keys), len(self.store.jobs), self.config.media
        )

    async def stop(self):
        for task in list(self.tasks):
            task.cancel()
        for proc in list(self.encoding):
            if proc.returncode is None:
                proc.kill()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.pillow.shutdown(wait=True, cancel_futures=True)
        await self.webhooks.close()
        if self._tmp_media:
            shutil.rmtree(self._tmp_media, ignore_errors=True)

    async def _watch_loop(self, period=0.05):
        """Measure how late the event loop wakes up: the delay every request would see on top of its work."""
        while True:
            start = time.monotonic()
            await asyncio.sleep(period)
            self.loop_lags.append((time.monotonic() - start - period) * 1000)

    def loop_lag(self):
        lags = sorted(self.loop_lags)
        if not lags:
            return None
        return {
            "samples": len(lags),
            "median_ms": round(lags[len(lags) // 2], 2),
            "p99_ms": round(lags[int(len(lags) * 0.99)], 2),
            "max_ms": round(lags[-1], 2),
        }

    def spawn(self, coro):
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    # keys
    def new_key(self, name):
        return KeyState(
            key=name,
            credit_micros=None if self.config.credit_usd is None else round(self.config.credit_usd * MICROS),
            rpm=self.config.rpm,
            webhook_urls=list(self.config.webhook_urls),
            webhook_secret=self.config.webhook_secret or new_webhook_secret(),
        )

    def _apply_start_options(self, state):
        """A key kept in the data dir keeps its credit and validity, but the endpoints, secret and limit given at
        this start win: `make run` rewrites them in .env when the app's key changes."""
        if "webhook_urls" in self.config.given:
            state.webhook_urls = list(self.config.webhook_urls)
        if "webhook_secret" in self.config.given:
            state.webhook_secret = self.config.webhook_secret
        if "rpm" in self.config.given:
            state.rpm = self.config.rpm

    def reset(self):
        """Back to the startup state, jobs excepted: faults, counters, keys (credit, limits, webhooks)."""
        self.faults = copy.deepcopy(self.initial_faults)
        self.counters.reset()
        self._rngs.clear()
        self.store.keys = {name: self.new_key(name) for name in self.config.api_keys}
        self.store.save_keys()

    def key_dialect(self, state):
        return state.dialect or self.config.dialect

    def authenticate(self, request, azure_path=False):
        """(KeyState or None, token, dialect). A known key counts only in a header its dialect reads (Bearer;
        LiteLLM also `x-litellm-api-key`; Azure only `api-key`). Marks the request with its key for the counters."""
        headers = request.headers
        scheme, _, token = headers.get("authorization", "").partition(" ")
        token = token.strip()
        litellm = headers.get("x-litellm-api-key", "").strip()
        if litellm.lower().startswith("bearer "):
            litellm = litellm[7:].strip()
        offered = (
            ("bearer", token if scheme.lower() == "bearer" else ""),
            ("x-litellm-api-key", litellm),
            ("api-key", headers.get("api-key", "").strip()),
        )
        request.scope["sorasim.key"] = Counters.UNKNOWN
        misplaced = None  # the dialect of a known key sent only in headers its dialect does not read
        for style, value in offered:
            state = self.store.keys.get(value) if value else None
            if state is not None:
                dialect = self.key_dialect(state)
                if style in dialects.AUTH_STYLES[dialect]:
                    request.scope["sorasim.key"] = state.key
                    return state, value, dialect
                misplaced = misplaced or dialect
        if misplaced is not None:
            return None, "", misplaced
        dialect = "azure" if azure_path else self.config.dialect
        if dialect == "litellm":
            token = next((value for _, value in offered[:2] if value), "")
        elif dialect == "azure":
            token = offered[2][1]
        return None, token, dialect

    def rate_limit(self, state):
        """Take a slot in the key's window; returns the x-ratelimit-* headers, raises 429 when full."""
        if not state.rpm:
            return {}
        now = time.monotonic()
        wait = state.take_slot(now)
        remaining = state.rpm - len(state.window)
        reset = (state.window[-1] + 60 - now) if state.window else 0.0
        headers = {
            "x-ratelimit-limit-requests": str(state.rpm),
            "x-ratelimit-remaining-requests": str(remaining),
            "x-ratelimit-reset-requests": format_duration(max(0.0, reset)),
        }
        if wait is not None:
            headers["retry-after"] = str(max(1, math.ceil(wait)))
            headers["retry-after-ms"] = str(max(1, math.ceil(wait * 1000)))
            headers["x-ratelimit-reset-requests"] = format_duration(wait)
            raise ApiError(
                429,
                f"Rate limit reached for requests on key {mask(state.key)}: limit {state.rpm} requests per minute. "
                f"Please try again in {format_duration(wait)}.",
                type="requests",
                code="rate_limit_exceeded",
                headers=headers,
                kind="rate_limit",
            )
        return headers

    # fault dice: one random stream per fault, so --seed replays each fault's decisions independently
    def rng(self, name):
        if name not in self._rngs:
            seed = self.config.seed
            self._rngs[name] = random.Random(f"{seed}:{name}") if seed is not None else random.Random()
        return self._rngs[name]

    def fire(self, name, rate, key):
        if rate <= 0:
            return False
        if rate < 1 and self.rng(name).random() >= rate:
            return False
        self.counters[key].faults_fired[name] += 1
        return True

    def applies(self, endpoints, op):
        return not endpoints or op in endpoints

    async def inject_latency(self, op, key):
        if self.faults.latency_ms > 0 and self.applies(self.faults.latency_endpoints, op):
            self.counters[key].faults_fired["latency"] += 1
            await asyncio.sleep(self.faults.latency_ms / 1000)

    def inject_error(self, op, key):
        if self.applies(self.faults.error_endpoints, op) and self.fire("error", self.faults.error_rate, key):
            status = self.rng("error_status").choice(self.faults.error_statuses)
            raise ApiError(
                status, "The server had an error while processing your request. Sorry about that!", type="server_error"
            )

    # jobs
    def accept(
        self, state, *, model, family, prompt, size, seconds, remixed_from=None, reference=None, dialect="openai"
    ):
        """Charge the key and record the job; raises 429 insufficient_quota when the credit does not cover it."""
        cost = price_micros(family, size, seconds)
        if state.credit_micros is not None and state.credit_micros < cost:
            raise ApiError(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                type="insufficient_quota",
                code="insufficient_quota",
            )
        if state.credit_micros is not None:
            state.credit_micros -= cost
        counters = self.counters[state.key]
        counters.creates_accepted += 1
        counters.charged_micros += cost
        now = time.time()
        job_seconds = self.faults.job_seconds
        job = Job(
            id=dialects.new_id(dialect, model),
            key=state.key,
            model=model,
            prompt=prompt,
            size=size,
            seconds=seconds,
            created=now,
            started=now + QUEUED_FRACTION * job_seconds,
            due=now + job_seconds,
            remixed_from_video_id=remixed_from,
            cost_micros=cost,
            dialect=dialect,
        )
        lowered = prompt.lower()
        if any(word.lower() in lowered for word in self.config.moderate_words):
            job.failure, job.fail_at = "moderation", job.started
        elif self.fire("job_failure", self.faults.job_failure_rate, state.key):
            job.failure, job.fail_at = "server_error", now + job_seconds / 2
        job.short_clip = not job.failure and self.fire("short_clip", self.faults.short_clip_rate, state.key)
        if reference is not None:
            data, ext = reference
            folder = self.store.media_dir(job.id)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"reference.{ext}").write_bytes(data)
            job.reference = f"reference.{ext}"
        self.store.add(job)
        self.store.save_keys()
        self.spawn(self._drive(job))
        return job

    async def _drive(self, job):
        try:
            if job.failure == "moderation":
                await self._sleep_until(job, lambda: job.fail_at)
                return self._fail(
                    job,
                    "moderation_blocked",
                    "Your request was blocked by our moderation system: the prompt was flagged.",
                )
            if job.failure == "server_error":
                await self._sleep_until(job, lambda: job.fail_at)
                return self._fail(job, "server_error", "The video could not be generated because of a server error.")
            # a long job encodes near its end, so jobs that will not finish soon do not hold the encoders
            await self._sleep_until(job, lambda: job.due - ENCODE_LEAD[self.config.media])
            try:
                await self._ensure_media(job)
            except media.EncodeError as exc:
                log.error("encoding %s failed: %s", job.id, exc)
                return self._fail(job, "server_error", "The video could not be rendered.")
            await self._sleep_until(job, lambda: job.due)
            self._complete(job)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug must still end the job in a state that says what happened
            log.exception("job %s crashed", job.id)
            self._fail(job, "server_error", "The simulator failed while rendering this video.")
        finally:
            self._wakeups.pop(job.id, None)

    async def _sleep_until(self, job, moment):
        """Sleep until `moment()`, a time on the job's timeline, read afresh whenever `advance` wakes us."""
        wakeup = self._wakeups.setdefault(job.id, asyncio.Event())
        while (delay := moment() - time.time()) > 0:
            wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), delay)

    async def _ensure_media(self, job):
        folder = self.store.media_dir(job.id)
        if media.assets_ready(folder):
            return
        spec = media.RenderSpec(
            video_id=job.id,
            prompt=job.prompt,
            model=job.model,
            size=job.size,
            seconds=int(job.seconds),
            remixed_from=job.remixed_from_video_id,
            reference=folder / job.reference if job.reference else None,
            short_clip=job.short_clip,
            media=self.config.media,
            pad_mb=self.config.pad_mb,
        )
        await media.render(spec, folder, self.semaphore, self.encoding, self.pillow)

    def _complete(self, job):
        job.status = "completed"
        job.completed_at = int(time.time())
        job.expires_at = job.completed_at + int(self.faults.expire_seconds)
        self.counters[job.key].jobs_completed += 1
        self.store.save_job(job)
        self._schedule_expiry(job, time.time())
        self.webhooks.emit(job, "video.completed")

    def _fail(self, job, code, message):
        job.final_progress = job.view()[1]
        job.status = "failed"
        job.error = {"code": code, "message": message}
        counters = self.counters[job.key]
        counters.jobs_failed += 1
        if job.cost_micros and not job.refunded:
            job.refunded = True
            counters.refunded_micros += job.cost_micros
            state = self.store.keys.get(job.key)
            if state is not None and state.credit_micros is not None:
                state.credit_micros += job.cost_micros
                self.store.save_keys()
        self.store.save_job(job)
        shutil.rmtree(self.store.media_dir(job.id), ignore_errors=True)
        self.webhooks.emit(job, "video.failed")

    def _schedule_expiry(self, job, now):
        delay = max(0.0, job.expires_at - now)
        asyncio.get_running_loop().call_later(delay, self._drop_media, job)

    def _drop_media(self, job):
        if job.expires_at is not None and time.time() >= job.expires_at:
            shutil.rmtree(self.store.media_dir(job.id), ignore_errors=True)

    def expire_now(self, job):
        job.expires_at = int(time.time())
        self.store.save_job(job)
        shutil.rmtree(self.store.media_dir(job.id), ignore_errors=True)

    def advance(self, job, seconds):
        """Move one job `seconds` (whole) further through its life, as if that time had passed for it alone: every
        moment of its timeline (created, started, due, failure, completion, expiry) comes that much sooner.

        Tests reach a late stage (progress near the end, completion, expiry) this way instead of sleeping, so a
        busy machine cannot change what they see. Other jobs, rate-limit windows and webhooks keep real time.
        """
        job.created -= seconds
        job.started -= seconds
        job.due -= seconds
        if job.fail_at is not None:
            job.fail_at -= seconds
        if job.completed_at is not None:
            job.completed_at -= seconds
        if job.expires_at is not None:
            job.expires_at -= seconds
        self.store.save_job(job)
        wakeup = self._wakeups.get(job.id)
        if wakeup is not None:
            wakeup.set()  # its driver sleeps until a moment that just moved
        if job.status == "completed" and not job.deleted:
            self._schedule_expiry(job, time.time())

    def delete(self, job):
        job.deleted = True
        self.store.save_job(job)
        shutil.rmtree(self.store.media_dir(job.id), ignore_errors=True)


def mask(key):
    return key[:5] + "*" * 4 + key[-4:] if len(key) > 10 else "*" * len(key)
