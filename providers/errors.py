"""Typed errors of the /v1/videos API. No Django imports: the client and the simulator's tests use them.

Every error keeps what the provider said (message, type, code, param) and the `x-request-id` of the call,
and says whether the same request may simply be sent again later (`retryable`). The client never retries:
the caller decides, so a create is never sent twice by accident.
"""

from __future__ import annotations

# 429 codes that mean "the account has no money", not "slow down": never retried as a rate limit.
BILLING_CODES = frozenset(
    {
        "insufficient_quota",
        "credit_balance_exhausted",
        "billing_hard_limit_reached",
        "billing_not_active",
        "insufficient_balance",
        "insufficient_credits",
        "quota_exceeded",
        "payment_required",
        "quota_not_enough",  # new-api relays (HTTP 403)
        "insufficient_user_quota",
    }
)


# How much of what a provider said our pages and records keep: a base URL may point at any server staff typed, so its
# answer is quoted as a short summary (status, code, the start of the message), never at length.
SUMMARY_CHARS = 200


def shorten(text, limit=SUMMARY_CHARS) -> str:
    """`text` on one line, cut to `limit` characters (an ellipsis marks the cut)."""
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# labels (code or type) of a create's 404 that say the model's deployment does not exist (yet)
NO_DEPLOYMENT_LABELS = frozenset({"video_generation_user_error", "DeploymentNotFound"})

# codes that say the job id is unknown to this key, whatever the HTTP status (new-api answers 400 task_not_exist)
NOT_FOUND_CODES = frozenset({"task_not_exist", "video_not_found", "not_found", "video_expired"})


class ProviderError(Exception):
    retryable = False

    def __init__(self, message, *, status=None, code=None, type=None, param=None, request_id=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.type = type
        self.param = param
        self.request_id = request_id

    def __str__(self):
        return self.summary(short=False)

    def summary(self, short=True):
        """The message with the status, code and request id; `short`: each cut (shorten), which is what a page or a
        stored record may quote of the answer."""
        cut = shorten if short else (lambda text, limit=None: text)
        parts = [cut(self.message)]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(f"code={cut(self.code, 60)}")
        if self.request_id:
            parts.append(f"request_id={cut(self.request_id, 100)}")
        return parts[0] if len(parts) == 1 else f"{parts[0]} ({', '.join(parts[1:])})"

    def __repr__(self):
        return (
            f"{type(self).__name__}(message={self.message!r}, status={self.status!r}, code={self.code!r}, "
            f"type={self.type!r}, param={self.param!r}, request_id={self.request_id!r})"
        )

    def __reduce__(self):
        # picklable with its keyword fields (Celery may serialise an exception)
        return _rebuild, (type(self), self.message, dict(self.__dict__))


def _rebuild(cls, message, state):
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class RateLimited(ProviderError):
    """429 rate limit: try again after `retry_after` seconds (None when the provider gave no hint)."""

    retryable = True

    def __init__(self, message, *, retry_after=None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class OutOfCredit(ProviderError):
    """429 insufficient_quota (or a billing code): the key has no money until someone tops it up."""


class InvalidKey(ProviderError):
    """401: the key is missing, wrong or revoked."""


class URLRefused(InvalidKey):
    """The key's base URL, or a redirect from it, leads where the outbound-URL policy (soraweb.outbound) forbids:
    nothing was sent. Like a refused key, only a person fixes it (the base URL, or OUTBOUND_ALLOW_PRIVATE for a
    local server), so callers take the key out of use as they do for InvalidKey."""


class ModelNotFound(ProviderError):
    """404 (or 400) model_not_found: the key cannot use that model."""


class InvalidRequest(ProviderError):
    """400: a bad parameter; `param` names it. Sending the same request again gives the same answer."""


class Moderated(ProviderError):
    """400 moderation_blocked: a guardrail refused the prompt or the reference image."""


class DeploymentNotReady(ProviderError):
    """404 on a create: the deployment the model names does not exist (yet). Azure answers so (type
    `video_generation_user_error`, or code `DeploymentNotFound`) for minutes after a deployment is made, and for good
    when the model names no deployment. Nothing was created: sending it again later is safe."""

    retryable = True


class VideoNotFound(ProviderError):
    """404 on a video id: deleted, expired, or created with another key."""


class ProviderUnavailable(ProviderError):
    """5xx, a connect error, or a timeout on a call that is safe to repeat."""

    retryable = True


class ProviderUnreachable(ProviderUnavailable):
    """No connection could be made (refused, or the connect timed out): nothing was sent. The provider is down or
    restarting, which is not the request's fault: a render waits for it (renders.pipeline) rather than using up
    its tries."""


class OutcomeUnknown(ProviderError):
    """A create or remix was sent but no answer came back: the job may exist (and be billed).
    Never re-POST: look for it with list() first."""


class IncompleteDownload(ProviderError):
    """The body ended before Content-Length, or the MP4 does not parse: download again."""

    retryable = True
