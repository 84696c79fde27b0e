"""Jobs, keys and counters, and their files under --data-dir.

Everything here runs on the event loop thread, and nothing in a check-then-change sequence awaits, so money
and counters stay exact under any number of concurrent requests without locks. Money is kept in integer
micro-dollars; the API shows USD floats.

On disk: `jobs/<video_id>.json` (one small file per job, rewritten atomically when the job changes),
`keys.json` (credit, limits, webhook settings) and `media/<video_id>/` (the assets).
"""

import collections
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

MICROS = 1_000_000
TERMINAL = ("completed", "failed")
QUEUED_FRACTION = 0.1  # the first tenth of a job's time is spent `queued`


def usd(micros):
    return None if micros is None else round(micros / MICROS, 6)


def to_micros(amount):
    return None if amount is None else round(float(amount) * MICROS)


def new_video_id():
    return "video_" + secrets.token_hex(24)


def new_webhook_secret():
    import base64

    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def write_json(path, data):
    """Write atomically, so a crash never leaves half a file behind."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


@dataclass
class Job:
    id: str
    key: str
    model: str
    prompt: str
    size: str
    seconds: str
    created: float  # epoch seconds, float
    started: float  # end of `queued`
    due: float  # when the job completes (or later, if encoding is slower)
    remixed_from_video_id: str | None = None
    reference: str | None = None  # file name of the stored reference image in the job's media folder
    status: str = "queued"  # stored status; queued/in_progress are refined from the clock in `view`
    completed_at: int | None = None
    expires_at: int | None = None
    error: dict | None = None
    failure: str | None = None  # decided at create: "moderation" or "server_error"
    fail_at: float | None = None
    short_clip: bool = False
    final_progress: int = 0  # progress shown once failed
    cost_micros: int = 0
    refunded: bool = False
    deleted: bool = False
    dialect: str = "openai"  # the dialect of the key that created the job (the form of its id)
    webhooks: list = field(default_factory=list)  # pending and finished deliveries (see webhooks.py)

    def view(self, now=None):
        """(status, progress) as the API shows them: computed from the clock, so a retrieve costs no work."""
        if self.status in TERMINAL:
            return self.status, 100 if self.status == "completed" else self.final_progress
        now = time.time() if now is None else now
        if now < self.started or now == self.created:
            return "queued", 0
        return "in_progress", self._progress(now)

    def _progress(self, now):
        if now < self.started:
            return 0
        span = self.due - self.started
        fraction = 1.0 if span <= 0 else (now - self.started) / span
        return max(1, min(99, int(fraction * 100)))

    def poll_after_ms(self, now=None):
        """The hint for the next poll: the expected remaining time, between 1 and 20 s."""
        now = time.time() if now is None else now
        end = self.fail_at if self.failure else self.due
        return int(min(20_000, max(1_000, (end - now) * 1000)))

    def to_api(self, now=None):
        status, progress = self.view(now)
        return {
            "id": self.id,
            "object": "video",
            "model": self.model,
            "status": status,
            "progress": progress,
            "created_at": int(self.created),
            "completed_at": self.completed_at,
            "expires_at": self.expires_at,
            "prompt": self.prompt,
            "size": self.size,
            "seconds": self.seconds,
            "remixed_from_video_id": self.remixed_from_video_id,
            "error": self.error,
        }

    def to_admin(self):
        data = asdict(self)
        data["status"], data["progress"] = self.view()
        data["cost_usd"] = usd(self.cost_micros)
        return data


@dataclass
class KeyState:
    key: str
    valid: bool = True
    credit_micros: int | None = None  # None: unlimited
    rpm: int = 0
    webhook_urls: list = field(default_factory=list)
    webhook_secret: str = ""
    dialect: str | None = None  # None: the server's --dialect
    deployed_at: float | None = None  # unix time its deployment exists from (Azure: 404 to creates until then)
    window: collections.deque = field(default_factory=collections.deque, repr=False)  # request times

    def to_record(self):
        return {
            "key": self.key,
            "valid": self.valid,
            "credit_micros": self.credit_micros,
            "rpm": self.rpm,
            "webhook_urls": list(self.webhook_urls),
            "webhook_secret": self.webhook_secret,
            "dialect": self.dialect,
            "deployed_at": self.deployed_at,
        }

    def to_admin(self):
        self.trim(time.monotonic())
        data = {
            "key": self.key,
            "valid": self.valid,
            "credit_usd": usd(self.credit_micros),
            "rpm": self.rpm,
            "webhook_urls": list(self.webhook_urls),
            "webhook_secret": self.webhook_secret,
            "requests_in_window": len(self.window),
        }
        if self.dialect is not None:
            data["dialect"] = self.dialect
        data["deploying_seconds"] = self.deploying_seconds()
        return data

    def deploying_seconds(self, now=None):
        """Seconds until the key's deployment exists (0: it does)."""
        if self.deployed_at is None:
            return 0
        return max(0.0, round(self.deployed_at - (time.time() if now is None else now), 3))

    def trim(self, now):
        while self.window and self.window[0] <= now - 60:
            self.window.popleft()

    def take_slot(self, now):
        """Count a request in the rolling 60 s window. Returns None when allowed, else seconds until a slot frees."""
        self.trim(now)
        if self.rpm and len(self.window) >= self.rpm:
            return self.window[0] + 60 - now
        self.window.append(now)
        return None


class KeyCounters:
    def __init__(self):
        self.requests = collections.Counter()
        self.creates_attempted = 0
        self.creates_accepted = 0
        self.charged_micros = 0
        self.refunded_micros = 0
        self.jobs_completed = 0
        self.jobs_failed = 0
        self.webhooks_sent = 0
        self.webhooks_delivered = 0
        self.webhooks_failed = 0
        self.faults_fired = collections.Counter()

    def to_dict(self):
        return {
            "requests": dict(sorted(self.requests.items())),
            "creates_attempted": self.creates_attempted,
            "creates_accepted": self.creates_accepted,
            "charged_usd": usd(self.charged_micros),
            "refunded_usd": usd(self.refunded_micros),
            "jobs_completed": self.jobs_completed,
            "jobs_failed": self.jobs_failed,
            "webhooks_sent": self.webhooks_sent,
            "webhooks_delivered": self.webhooks_delivered,
            "webhooks_failed": self.webhooks_failed,
            "faults_fired": dict(sorted(self.faults_fired.items())),
        }


class Counters:
    UNKNOWN = "(unknown)"  # requests whose Bearer key the simulator does not know

    def __init__(self):
        self.by_key = collections.defaultdict(KeyCounters)

    def __getitem__(self, key):
        return self.by_key[key]

    def to_dict(self, key=None):
        if key is not None:
            return self.by_key[key].to_dict() if key in self.by_key else KeyCounters().to_dict()
        return {"keys": {k: v.to_dict() for k, v in sorted(self.by_key.items())}}

    def reset(self, key=None):
        if key is None:
            self.by_key.clear()
        else:
            self.by_key.pop(key, None)


class Store:
    """Jobs by id, each key's jobs in creation order, and key states; persisted when a data dir is given."""

    def __init__(self, media_root, data_dir=None):
        self.data_dir = Path(data_dir) if data_dir else None
        self.media_root = Path(media_root)
        self.jobs = {}
        self.order = collections.defaultdict(list)  # key -> job ids, oldest first
        self.keys = {}
        if self.data_dir:
            (self.data_dir / "jobs").mkdir(parents=True, exist_ok=True)
        self.media_root.mkdir(parents=True, exist_ok=True)

    def media_dir(self, video_id):
        return self.media_root / video_id

    # jobs
    def add(self, job):
        self.jobs[job.id] = job
        self.order[job.key].append(job.id)
        self.save_job(job)

    def save_job(self, job):
        if self.data_dir:
            write_json(self.data_dir / "jobs" / f"{job.id}.json", asdict(job))

    def load(self):
        """Read jobs and keys back after a restart."""
        if not self.data_dir:
            return
        records = []
        for path in (self.data_dir / "jobs").glob("[!.]*.json"):
            try:
                records.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue  # a torn file cannot exist (atomic writes), but a hand-edited one might
        for record in sorted(records, key=lambda r: r["created"]):
            job = Job(**record)
            self.jobs[job.id] = job
            self.order[job.key].append(job.id)
        keys_file = self.data_dir / "keys.json"
        if keys_file.exists():
            for record in json.loads(keys_file.read_text()):
                self.keys[record["key"]] = KeyState(**record)

    def visible(self, key, video_id):
        """The job if this key may see it (its own, not deleted), else None: other keys get a 404."""
        job = self.jobs.get(video_id)
        if job is None or job.key != key or job.deleted:
            return None
        return job

    # keys
    def save_keys(self):
        if self.data_dir:
            write_json(self.data_dir / "keys.json", [k.to_record() for k in self.keys.values()])
