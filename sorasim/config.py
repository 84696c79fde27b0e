"""Command-line options, each also an environment variable `SORASIM_<NAME>`, and the runtime fault switches.

A repeatable option takes a comma-separated list from its environment variable (`SORASIM_API_KEY=k1,k2`).
A command-line value wins over the environment. The fault switches (and the job timing) live in `Faults`,
which the admin API reads and changes while the server runs.
"""

import argparse
import dataclasses
import os
from dataclasses import dataclass, field

DEFAULT_API_KEY = "sk-sorasim-demo"
DIALECTS = ("openai", "newapi", "litellm", "azure")  # sorasim/dialects.py says how each differs
ENDPOINTS = ("create", "remix", "retrieve", "list", "delete", "content")  # names for the *_endpoints filters


@dataclass
class Faults:
    """Everything the admin API may change at runtime (`GET/PATCH /_sim/faults`)."""

    error_rate: float = 0.0  # fraction of /v1 requests answered with one of error_statuses
    error_statuses: list[int] = field(default_factory=lambda: [500, 502, 503])
    error_endpoints: list[str] = field(default_factory=list)  # empty: every endpoint
    latency_ms: float = 0.0  # added before a /v1 request is processed
    latency_endpoints: list[str] = field(default_factory=list)
    drop_create_response_rate: float = 0.0  # create accepted and billed, then the connection breaks
    truncate_download_rate: float = 0.0  # download sends fewer bytes than its Content-Length
    job_failure_rate: float = 0.0  # accepted job ends `failed` with error.code "server_error"
    short_clip_rate: float = 0.0  # the MP4 lasts 3/4 of the seconds asked
    webhook_drop_rate: float = 0.0  # a delivery is never sent
    webhook_duplicate_rate: float = 0.0  # a delivery is sent twice (same webhook-id)
    webhook_reorder: bool = False  # deliveries held together are sent newest first
    webhook_reorder_window: float = 1.0  # seconds a delivery waits for a later one to overtake it
    job_seconds: float = 10.0  # wall time from queued to completed for jobs created from now on
    expire_seconds: float = 3600.0  # how long assets stay downloadable after completion

    RATES = (
        "error_rate",
        "drop_create_response_rate",
        "truncate_download_rate",
        "job_failure_rate",
        "short_clip_rate",
        "webhook_drop_rate",
        "webhook_duplicate_rate",
    )

    def to_dict(self):
        return dataclasses.asdict(self)

    def update(self, values):
        """Validate and apply a partial update; raise ValueError naming the first bad field."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        clean = {}
        for name, value in values.items():
            if name not in fields:
                raise ValueError(f"unknown fault field {name!r}; known: {', '.join(sorted(fields))}")
            clean[name] = _check_fault(name, value)
        for name, value in clean.items():
            setattr(self, name, value)


def _is_number(value):
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_fault(name, value):
    if name in Faults.RATES:
        if not _is_number(value) or not 0 <= value <= 1:
            raise ValueError(f"{name} must be a number between 0 and 1")
        return float(value)
    if name == "error_statuses":
        if not isinstance(value, list) or not value or not all(isinstance(v, int) and 500 <= v <= 599 for v in value):
            raise ValueError("error_statuses must be a non-empty list of 5xx status codes")
        return list(value)
    if name in ("error_endpoints", "latency_endpoints"):
        if not isinstance(value, list) or not all(v in ENDPOINTS for v in value):
            raise ValueError(f"{name} must be a list of endpoint names among {', '.join(ENDPOINTS)}")
        return list(value)
    if name == "webhook_reorder":
        if not isinstance(value, bool):
            raise ValueError("webhook_reorder must be true or false")
        return value
    if not _is_number(value) or value < 0:
        raise ValueError(f"{name} must be a number >= 0")
    return float(value)


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = 8765
    api_keys: list[str] = field(default_factory=lambda: [DEFAULT_API_KEY])
    moderate_words: list[str] = field(default_factory=list)
    data_dir: str | None = None
    media: str = "real"
    rpm: int = 0
    credit_usd: float | None = None
    webhook_urls: list[str] = field(default_factory=list)
    webhook_secret: str | None = None
    webhook_timeout: float = 10.0
    webhook_retry_seconds: float = 72 * 3600.0
    webhook_initial_backoff: float = 5.0
    pad_mb: float = 0.0
    seed: int | None = None
    encode_workers: int = 1
    log_level: str = "info"
    dialect: str = "openai"  # the wire of keys that set none (sorasim/dialects.py)
    faults: Faults = field(default_factory=Faults)
    given: set = field(default_factory=set)  # options set on the command line or in the environment


def _floats(text):
    return float(text)


def _int_list(text):
    return [int(v) for v in text.split(",") if v.strip()]


def _str_list(text):
    return [v.strip() for v in text.split(",") if v.strip()]


def _bool(text):
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _default_workers():
    return max(1, (os.cpu_count() or 2) - 1)


# (flag, destination, type, repeatable, default, help). Destinations with a "faults." prefix land in Faults.
OPTIONS = [
    ("--host", "host", str, False, "127.0.0.1", "address to bind"),
    ("--port", "port", int, False, 8765, "port to bind"),
    ("--api-key", "api_keys", str, True, [DEFAULT_API_KEY], "an accepted Bearer key (repeatable)"),
    (
        "--job-seconds",
        "faults.job_seconds",
        _floats,
        False,
        10.0,
        "wall time from queued to completed (float; 0 = as fast as encoding allows)",
    ),
    (
        "--moderate-word",
        "moderate_words",
        str,
        True,
        [],
        "a prompt containing WORD (any case) ends as a failed job with error.code moderation_blocked (repeatable)",
    ),
    (
        "--data-dir",
        "data_dir",
        str,
        False,
        None,
        "folder for jobs, key state and media, kept across restarts (default: memory and a temporary folder)",
    ),
    (
        "--media",
        "media",
        str,
        False,
        "real",
        "real: ffmpeg renders of the prompt over motion; fast: same size, duration and codec, cheap picture",
    ),
    (
        "--expire-seconds",
        "faults.expire_seconds",
        _floats,
        False,
        3600.0,
        "how long assets stay downloadable after completion",
    ),
    ("--rpm", "rpm", int, False, 0, "requests per minute per key, rolling 60 s window (0 = unlimited)"),
    (
        "--credit-usd",
        "credit_usd",
        _floats,
        False,
        None,
        "starting credit per key in USD, charged on accepted creates (default: unlimited)",
    ),
    ("--webhook-url", "webhook_urls", str, True, [], "default webhook endpoint of every key (repeatable)"),
    (
        "--webhook-secret",
        "webhook_secret",
        str,
        False,
        None,
        "default whsec_... signing secret of every key (default: one generated per key)",
    ),
    ("--webhook-timeout", "webhook_timeout", _floats, False, 10.0, "seconds before a delivery attempt times out"),
    (
        "--webhook-retry-seconds",
        "webhook_retry_seconds",
        _floats,
        False,
        72 * 3600.0,
        "how long failed deliveries are retried (exponential backoff)",
    ),
    (
        "--webhook-initial-backoff",
        "webhook_initial_backoff",
        _floats,
        False,
        5.0,
        "seconds before the first retry; doubles after every failed attempt (capped at 1 hour)",
    ),
    (
        "--fault-rate",
        "faults.error_rate",
        _floats,
        False,
        0.0,
        "fraction of /v1 requests answered with a 5xx from --fault-statuses (admin field error_rate)",
    ),
    (
        "--fault-statuses",
        "faults.error_statuses",
        _int_list,
        False,
        [500, 502, 503],
        "comma-separated statuses --fault-rate picks from",
    ),
    (
        "--fault-endpoints",
        "faults.error_endpoints",
        _str_list,
        False,
        [],
        f"endpoints --fault-rate applies to, among {','.join(ENDPOINTS)} (default: all)",
    ),
    ("--latency-ms", "faults.latency_ms", _floats, False, 0.0, "milliseconds added before each /v1 request"),
    (
        "--latency-endpoints",
        "faults.latency_endpoints",
        _str_list,
        False,
        [],
        "endpoints --latency-ms applies to (default: all)",
    ),
    (
        "--drop-create-response-rate",
        "faults.drop_create_response_rate",
        _floats,
        False,
        0.0,
        "fraction of accepted (billed) creates whose response is cut off mid-body",
    ),
    (
        "--truncate-download-rate",
        "faults.truncate_download_rate",
        _floats,
        False,
        0.0,
        "fraction of downloads that send fewer bytes than their Content-Length",
    ),
    (
        "--job-failure-rate",
        "faults.job_failure_rate",
        _floats,
        False,
        0.0,
        "fraction of accepted jobs that fail with error.code server_error (refunded)",
    ),
    (
        "--short-clip-rate",
        "faults.short_clip_rate",
        _floats,
        False,
        0.0,
        "fraction of jobs whose MP4 lasts only 3/4 of the seconds asked",
    ),
    ("--webhook-drop-rate", "faults.webhook_drop_rate", _floats, False, 0.0, "fraction of deliveries never sent"),
    (
        "--webhook-duplicate-rate",
        "faults.webhook_duplicate_rate",
        _floats,
        False,
        0.0,
        "fraction of deliveries sent twice",
    ),
    (
        "--webhook-reorder",
        "faults.webhook_reorder",
        _bool,
        False,
        False,
        "hold deliveries up to --webhook-reorder-window seconds and send those held together newest first",
    ),
    (
        "--webhook-reorder-window",
        "faults.webhook_reorder_window",
        _floats,
        False,
        1.0,
        "seconds a delivery is held when --webhook-reorder is on",
    ),
    ("--seed", "seed", int, False, None, "seed the fault dice so a fault run is reproducible"),
    ("--pad-mb", "pad_mb", _floats, False, 0.0, "pad every MP4 to about N MB with a `free` box (still playable)"),
    ("--encode-workers", "encode_workers", int, False, None, "concurrent ffmpeg encodes (default: CPUs - 1, min 1)"),
    ("--log-level", "log_level", str, False, "info", "uvicorn log level"),
    (
        "--dialect",
        "dialect",
        str,
        False,
        "openai",
        "the provider dialect of keys that set none: openai, newapi, litellm or azure",
    ),
]


def env_name(flag):
    return "SORASIM_" + flag.lstrip("-").upper().replace("-", "_")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m sorasim",
        description="A local simulator of the Sora-2 /v1/videos API (admin API under /_sim/). "
        "Every option is also an environment variable SORASIM_<NAME>; repeatable ones take a comma-separated list.",
    )
    for flag, dest, kind, repeatable, default, text in OPTIONS:
        help_text = f"{text} [env {env_name(flag)}; default {default!r}]".replace("%", "%%")
        metavar = flag.lstrip("-").split("-")[-1].upper()
        if kind is _bool:
            parser.add_argument(
                flag, dest=dest, nargs="?", const=True, type=kind, default=None, help=help_text, metavar="BOOL"
            )
        elif repeatable:
            parser.add_argument(
                flag, dest=dest, action="append", type=kind, default=None, help=help_text, metavar=metavar
            )
        else:
            parser.add_argument(flag, dest=dest, type=kind, default=None, help=help_text, metavar=metavar)
    return parser


def parse_config(argv=None, environ=None):
    """Command line over environment over defaults; raises SystemExit with a clear message on bad values."""
    environ = os.environ if environ is None else environ
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    config = Config()
    faults = {}
    for flag, dest, kind, repeatable, default, _ in OPTIONS:
        value = args[dest]
        if value is None and env_name(flag) in environ:
            raw = environ[env_name(flag)]
            try:
                value = _str_list(raw) if repeatable else kind(raw)
                if repeatable and kind is not str:
                    value = [kind(v) for v in value]
            except (ValueError, argparse.ArgumentTypeError) as exc:
                parser.error(f"{env_name(flag)}={raw!r}: {exc}")
        if value is None:
            value = default() if callable(default) else default
        else:
            config.given.add(dest)
        if dest.startswith("faults."):
            faults[dest.removeprefix("faults.")] = value
        else:
            setattr(config, dest, value)
    if config.encode_workers is None:
        config.encode_workers = _default_workers()
    if config.media not in ("real", "fast"):
        parser.error(f"--media must be real or fast, not {config.media!r}")
    if config.dialect not in DIALECTS:
        parser.error(f"--dialect must be one of {', '.join(DIALECTS)}, not {config.dialect!r}")
    if not config.api_keys:
        parser.error("at least one --api-key is needed")
    if config.webhook_secret is not None and not config.webhook_secret.startswith("whsec_"):
        parser.error("--webhook-secret must look like whsec_<base64>")
    try:
        config.faults.update(faults)
    except ValueError as exc:
        parser.error(str(exc))
    return config
