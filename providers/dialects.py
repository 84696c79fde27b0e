"""How gateways and resellers speak the /v1/videos API differently: the only place that knows their accents.

The client (providers.client) reads every answer through these functions, so everything above it sees the
canonical words only: a video's status is one of queued, in_progress, completed, failed or expired.

- Status synonyms (new-api passes its upstream's words through: `NOT_START`, `pending`, `processing`,
  `IN_PROGRESS`, `SUCCESS`, `FAILURE`, `cancelled`, ...) map onto the canonical five. A word we do not know keeps
  the job in flight (a deadline above us ends it), and is logged once per key and word, not once per poll.
- The id of a job may be named `task_id` (older new-api relays answer a create with `{"task_id": ...}` only).
- The key travels in `Authorization: Bearer <key>` (the default), or as is in a named header: `api-key` (Azure),
  `x-litellm-api-key` (LiteLLM).
- Error bodies come in several shapes (OpenAI's envelope, new-api's task errors, LiteLLM's string codes, Azure's
  content filter and `misalignment` details, FastAPI's `detail`): `error_fields` reads them all.
No Django imports.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

CANONICAL_STATUSES = ("queued", "in_progress", "completed", "failed", "expired")
TERMINAL_STATUSES = frozenset({"completed", "failed", "expired"})

# lower-cased, spaces and hyphens as underscores
STATUS_SYNONYMS = {
    "queued": "queued",
    "queueing": "queued",
    "pending": "queued",
    "not_start": "queued",
    "not_started": "queued",
    "submitted": "queued",
    "waiting": "queued",
    "created": "queued",
    "in_progress": "in_progress",
    "inprogress": "in_progress",
    "processing": "in_progress",
    "running": "in_progress",
    "generating": "in_progress",
    "started": "in_progress",
    "completed": "completed",
    "complete": "completed",
    "succeeded": "completed",
    "success": "completed",
    "successful": "completed",
    "done": "completed",
    "finished": "completed",
    "failed": "failed",
    "failure": "failed",
    "fail": "failed",
    "error": "failed",
    "cancelled": "failed",
    "canceled": "failed",
    "expired": "expired",
}
CANCELLED = frozenset({"cancelled", "canceled"})

BEARER = ""  # the default auth style: Authorization: Bearer <key>
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")  # an HTTP token (RFC 9110)

_unknown_seen: set[tuple[str, str]] = set()
_unknown_lock = threading.Lock()


def _word(value) -> str:
    return re.sub(r"[\s-]+", "_", str(value).strip()).lower()


def canonical_status(value) -> str | None:
    """The canonical status of a provider's status word; None when we do not know the word."""
    if value is None or value == "":
        return None
    return STATUS_SYNONYMS.get(_word(value))


def is_cancelled(value) -> bool:
    return value is not None and _word(value) in CANCELLED


def note_unknown_status(key_label: str, word: str) -> bool:
    """Log a status word we do not know, once per key and word (a job is polled many times). True if logged."""
    entry = (key_label, str(word))
    with _unknown_lock:
        if entry in _unknown_seen:
            return False
        _unknown_seen.add(entry)
    logger.warning(
        "provider key %s reported the unknown video status %r: the job stays in flight until a deadline",
        key_label,
        word,
    )
    return True


def video_object(data):
    """The video object of an answer: the answer itself, or what a relay wrapped in `data`."""
    if isinstance(data, dict) and not (data.get("id") or data.get("task_id")) and isinstance(data.get("data"), dict):
        return data["data"]
    return data


def video_id(data: dict):
    """The job's id: `id`, or `task_id` as new-api relays name it."""
    return data.get("id") or data.get("task_id")


def progress(value) -> int:
    """0-100 from 42, 42.5, "42" or "42%"."""
    try:
        return max(0, min(100, int(float(str(value).strip().removesuffix("%")))))
    except (TypeError, ValueError):
        return 0


# --- auth --------------------------------------------------------------------------------------------


def normalize_auth_header(name: str | None) -> str:
    """The auth style as stored: "" for Bearer (also when "Authorization" is named), else the header's name."""
    name = (name or "").strip()
    if not name or name.lower() == "authorization":
        return BEARER
    if not HEADER_NAME.match(name):
        raise ValueError(f"{name!r} is not an HTTP header name")
    return name.lower()


def auth_headers(api_key: str, auth_header: str | None = BEARER) -> dict[str, str]:
    name = normalize_auth_header(auth_header)
    if name == BEARER:
        return {"Authorization": f"Bearer {api_key}"}
    return {name: api_key}


def origin(url) -> tuple[str, str, int | None]:
    parts = urlsplit(str(url))
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def key_may_go_to(url, base_url: str) -> bool:
    """The key goes only to the provider's API: the base URL's origin and a path under it. A redirect elsewhere
    (a CDN, a signed storage link, another path of the same host) gets no key."""
    if origin(url) != origin(base_url):
        return False
    base_path = urlsplit(base_url).path.rstrip("/") + "/"
    return (urlsplit(str(url)).path or "/").startswith(base_path)


# --- errors ------------------------------------------------------------------------------------------


def _text(value) -> str | None:
    if value is None or value == "" or isinstance(value, (dict, list)):
        return None
    return str(value)


def error_fields(parsed) -> dict:
    """message, code, type, param and a readable `reason` from an error body of any shape we know:

    OpenAI and LiteLLM  {"error": {"message", "type", "param", "code"}}   (LiteLLM's code is a string: "400")
    Azure               {"error": {"code": "content_filter", "message", "innererror": {"code",
                         "content_filter_result": {"sexual": {"filtered": true, "severity": "high"}, ...}},
                         "misalignment": {"error_type", "review_target", "detailed_explanation", "steer"}}}
    new-api tasks       {"code": "...", "message": "...", "data": null}
    FastAPI             {"detail": "..."} or {"detail": [{"msg", "loc"}]}
    """
    if isinstance(parsed, str):
        return {"message": parsed.strip()[:500] or None, "code": None, "type": None, "param": None, "reason": None}
    if not isinstance(parsed, dict):
        return {"message": None, "code": None, "type": None, "param": None, "reason": None}
    body = parsed.get("error")
    if isinstance(body, str):
        body = {"message": body, "code": parsed.get("code"), "type": parsed.get("type")}
    elif not isinstance(body, dict):
        body = parsed
    message = _text(body.get("message")) or _text(body.get("msg")) or _detail(parsed.get("detail"))
    inner = body.get("innererror") or body.get("inner_error") or {}
    inner = inner if isinstance(inner, dict) else {}
    code = _text(body.get("code")) or _text(inner.get("code"))
    if code and code.isdigit() and _text(inner.get("code")):
        code = _text(inner.get("code"))  # a status number as the code says less than the inner code
    param = _text(body.get("param"))
    if param in ("None", "null"):
        param = None  # LiteLLM writes a missing param as the string "None"
    reasons = []
    misalignment = body.get("misalignment") or parsed.get("misalignment")
    if isinstance(misalignment, dict):
        reasons.append(_misalignment(misalignment))
    filtered = _content_filter(inner) or _content_filter(body)
    if filtered:
        reasons.append(f"the content filter flagged {filtered}")
    reason = "; ".join(r for r in reasons if r) or None
    return {
        "message": message,
        "code": code,
        "type": _text(body.get("type")),
        "param": param,
        "reason": reason,
        "inner_code": _text(inner.get("code")),
        "filtered": bool(filtered or misalignment),
    }


def _detail(detail) -> str | None:
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict) and item.get("msg"):
                where = ".".join(str(p) for p in item.get("loc") or [] if p != "body")
                parts.append(f"{where}: {item['msg']}" if where else str(item["msg"]))
        return "; ".join(parts) or None
    return _text(detail)


def _misalignment(data: dict) -> str:
    explanation = _text(data.get("detailed_explanation"))
    kind = _text(data.get("error_type"))
    target = _text(data.get("review_target"))
    steer = _text(data.get("steer"))
    text = explanation or (kind.replace("_", " ") if kind else "the request was judged out of policy")
    if target:
        text = f"{text} (in the {target.replace('_', ' ')})"
    if steer:
        text = f"{text}. {steer}"
    return text


def _content_filter(data: dict) -> str:
    """The categories a content filter flagged, e.g. "sexual (high), violence (medium)"; "" if none."""
    results = data.get("content_filter_result") or data.get("content_filter_results") or {}
    if not isinstance(results, dict):
        return ""
    flagged = []
    for category, result in results.items():
        if isinstance(result, dict) and (result.get("filtered") or result.get("detected")):
            severity = _text(result.get("severity"))
            name = category.replace("_", " ")
            flagged.append(f"{name} ({severity})" if severity and severity != "safe" else name)
    return ", ".join(flagged)


# codes a guardrail answers with: the request is refused for its content, not for its form
MODERATION_CODES = frozenset(
    {
        "moderation_blocked",
        "content_policy_violation",
        "moderation",
        "content_filter",
        "responsibleaipolicyviolation",
        "sentinel_block",
        "safety_violation",
        "misalignment",
    }
)


def is_moderation(fields: dict) -> bool:
    labels = {(fields.get(name) or "").lower() for name in ("code", "type", "inner_code")}
    return bool(labels & MODERATION_CODES) or bool(fields.get("filtered"))


_GATEWAY_PREFIX = re.compile(r"^(?:litellm\.\w+(?:Error|Exception):\s*)?(?:\w+Exception\s+-\s+)?")


def readable_message(fields: dict) -> str:
    """The provider's message without a gateway's class-name prefix (LiteLLM's "litellm.BadRequestError:
    OpenAIException - "), with the reason the details give (content filter, misalignment) and the parameter."""
    message = _GATEWAY_PREFIX.sub("", (fields.get("message") or "").strip()) or ""
    reason = fields.get("reason")
    if reason and reason.lower() not in message.lower():
        message = f"{message.rstrip('.')}: {reason}" if message else reason
    param = fields.get("param")
    if param and message and param not in message:
        message = f"{message} (parameter: {param})"
    return message
