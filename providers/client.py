"""The one door to a provider's /v1/videos API (see shared/reference/video-api.md). No Django imports.

- Typed results (`Video`, `Download`) that tolerate unknown fields; `seconds` is a string. Every accent of a
  gateway or reseller (status words, `task_id`, error shapes, auth headers) is read by providers.dialects, so a
  Video's status is always one of queued, in_progress, completed, failed, expired; a status word we do not know
  keeps the job in flight (`in_progress`, the word kept in `provider_status`) and is logged once per key.
- Typed errors (providers.errors) from the status and the error envelope, each with the `x-request-id`.
- Timeouts on every call. No retries here: one retry layer only, in the caller, so a create is never sent
  twice by accident. A create or remix that may have reached the provider without an answer raises
  OutcomeUnknown, never ProviderUnavailable.
- Downloads stream to a file object in chunks (constant memory) and are complete only when the byte count
  equals Content-Length and, for the video, the MP4 parses with a duration.
- The key never appears in str/repr/logs: the client's repr shows the last 4 characters, and provider messages
  that echo the key are scrubbed. It goes in `Authorization: Bearer` or in a named header (`auth_header`), and
  only to the base URL: a download redirected elsewhere (a CDN, a signed link) is followed without it.
- Where it may connect is the transport's business: ApiKey.client() passes one from soraweb.outbound.guard, whose
  refusals (a private address, a redirect to one) come out as URLRefused.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import quote

import httpx

from providers import dialects
from providers.errors import (
    BILLING_CODES,
    NO_DEPLOYMENT_LABELS,
    NOT_FOUND_CODES,
    DeploymentNotReady,
    IncompleteDownload,
    InvalidKey,
    InvalidRequest,
    ModelNotFound,
    Moderated,
    OutcomeUnknown,
    OutOfCredit,
    ProviderError,
    ProviderUnavailable,
    ProviderUnreachable,
    RateLimited,
    URLRefused,
    VideoNotFound,
)
from providers.mp4 import Mp4Error, Mp4Scanner
from soraweb import outbound

__all__ = [
    "VideoClient",
    "Video",
    "VideoError",
    "Download",
    "TERMINAL_STATUSES",
    "ProviderError",
    "RateLimited",
    "OutOfCredit",
    "InvalidKey",
    "ModelNotFound",
    "InvalidRequest",
    "Moderated",
    "VideoNotFound",
    "DeploymentNotReady",
    "ProviderUnavailable",
    "ProviderUnreachable",
    "OutcomeUnknown",
    "IncompleteDownload",
    "URLRefused",
]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DEFAULT_CHUNK_SIZE = 256 * 1024
ACTIVE_STATUSES = frozenset({"queued", "in_progress"})
TERMINAL_STATUSES = dialects.TERMINAL_STATUSES
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
VARIANTS = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}
MAX_ERROR_BODY = 64 * 1024


@dataclass(frozen=True)
class VideoError:
    code: str | None
    message: str | None


@dataclass(frozen=True)
class Video:
    id: str
    object: str = "video"
    model: str | None = None
    status: str = "queued"
    progress: int = 0
    created_at: int | None = None
    completed_at: int | None = None
    expires_at: int | None = None
    prompt: str | None = None
    size: str | None = None
    seconds: str | None = None
    remixed_from_video_id: str | None = None
    error: VideoError | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)
    request_id: str | None = None
    poll_after_ms: int | None = None
    provider_status: str | None = None  # the provider's own word, when it differs from `status`

    @property
    def is_terminal(self) -> bool:
        """completed, failed or expired: never poll it again. A status word we do not know is in flight."""
        return self.status in TERMINAL_STATUSES

    @property
    def status_known(self) -> bool:
        return self.provider_status is None or dialects.canonical_status(self.provider_status) is not None

    @classmethod
    def from_dict(cls, data: dict, *, request_id=None, poll_after_ms=None) -> Video:
        data = dialects.video_object(data)
        if not isinstance(data, dict) or not dialects.video_id(data):
            raise ProviderError("the provider returned a video without an id", request_id=request_id)
        word = data.get("status")
        # no status at all: a create answered with its id only (new-api's {"task_id": ...}) is queued
        status = "queued" if word in (None, "") else dialects.canonical_status(word) or "in_progress"
        error = data.get("error")
        if isinstance(error, dict):
            error = VideoError(code=_str_or_none(error.get("code")), message=_str_or_none(error.get("message")))
        elif error:
            error = VideoError(code=None, message=str(error))
        elif status == "failed":
            reason = _str_or_none(data.get("fail_reason") or data.get("failure_reason"))
            if dialects.is_cancelled(word):
                error = VideoError(code="cancelled", message=reason or "the provider cancelled the job")
            elif reason:
                error = VideoError(code=None, message=reason)
            else:
                error = None
        else:
            error = None
        return cls(
            id=str(dialects.video_id(data)),
            object=str(data.get("object") or "video"),
            model=_str_or_none(data.get("model")),
            status=status,
            provider_status=None if word is None or str(word) == status else str(word),
            progress=dialects.progress(data.get("progress")),
            created_at=_int_or(data.get("created_at"), None),
            completed_at=_int_or(data.get("completed_at"), None),
            expires_at=_int_or(data.get("expires_at"), None),
            prompt=_str_or_none(data.get("prompt")),
            size=_str_or_none(data.get("size")),
            # a provider that sends 8 instead of "8" still gives us a string
            seconds=_str_or_none(data.get("seconds")),
            remixed_from_video_id=_str_or_none(data.get("remixed_from_video_id")),
            error=error,
            raw=data,
            request_id=request_id,
            poll_after_ms=poll_after_ms,
        )


@dataclass(frozen=True)
class Download:
    bytes: int
    content_type: str | None
    duration_seconds: float | None
    request_id: str | None


def _str_or_none(value):
    return None if value is None else str(value)


def _int_or(value, default):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class VideoClient:
    """A client for one key of one provider. Use as a context manager, or call close()."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        auth_header: str | None = dialects.BEARER,
        label: str | None = None,
    ):
        """`auth_header`: "" (or "Authorization") sends `Authorization: Bearer <key>`; any other name sends the
        key as is in that header (`api-key` for Azure, `x-litellm-api-key` for LiteLLM). `label` names the key in
        logs (never the secret)."""
        if not api_key:
            raise ValueError("an API key is required")
        self.base_url = base_url.rstrip("/")
        self._last4 = api_key[-4:]
        self.label = label or f"{self.base_url} ••••{self._last4}"
        auth = dialects.auth_headers(api_key, auth_header)
        self._auth_name = next(iter(auth))
        # the key lives only in this header (httpx masks Authorization in reprs; the client's repr is our own)
        self._http = httpx.Client(
            base_url=self.base_url + "/",
            headers={**auth, "Accept": "application/json"},
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self):
        return f"<VideoClient {self.base_url} key=••••{self._last4}>"

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        self._http.close()

    # --- calls -------------------------------------------------------------------------------------

    def create(
        self,
        *,
        prompt: str,
        model: str = "sora-2",
        size: str = "720x1280",
        seconds: str = "4",
        input_reference: tuple[str, bytes | BinaryIO, str] | None = None,
        remix_video_id: str | None = None,
        reference_as: str = "file",
    ) -> Video:
        """POST /videos: multipart, or JSON with `input_reference: {"image_url": <data URL>}` when the reference
        goes `reference_as="image_url"` (providers that take no uploads). Raises OutcomeUnknown when it may have
        been accepted without an answer."""
        fields = {"prompt": prompt, "model": model, "size": size, "seconds": str(seconds)}
        if remix_video_id:
            fields["remix_video_id"] = remix_video_id
        if reference_as == "image_url" and input_reference is not None:
            _, content, content_type = input_reference
            fields["input_reference"] = {"image_url": data_url(content, content_type)}
            response = self._send("POST", "videos", json=fields, creates=True, video_id=remix_video_id)
            return self._video(response, creates=True)
        if reference_as not in ("file", "image_url"):
            raise ValueError(f"reference as {reference_as!r}: use 'file' or 'image_url'")
        return self._create(fields, input_reference)

    def retrieve(self, video_id: str) -> Video:
        response = self._send("GET", _video_path(video_id), video_id=video_id)
        return self._video(response)

    def list(self, *, limit: int = 100, order: str = "desc") -> Iterator[Video]:
        """Every video of the key, page by page (`after` = the last id) until has_more is false."""
        after = None
        while True:
            params = {"limit": limit, "order": order}
            if after:
                params["after"] = after
            response = self._send("GET", "videos", params=params)
            page = self._json(response)
            data = page.get("data") or []
            request_id = _request_id(response)
            for item in data:
                yield self._noted(Video.from_dict(item, request_id=request_id))
            previous, after = after, page.get("last_id") or (data[-1].get("id") if data else None)
            if not page.get("has_more") or not data or not after or after == previous:
                return  # the last page (or a provider repeating itself: never loop forever)

    def delete(self, video_id: str) -> bool:
        response = self._send("DELETE", _video_path(video_id), video_id=video_id)
        return bool(self._json(response).get("deleted"))

    def remix(self, video_id: str, prompt: str, *, by: str = "endpoint") -> Video:
        """A new video from a completed one: POST /videos/{id}/remix, or POST /videos with remix_video_id
        (`by="create"`, for providers that document that form). Model, size and length follow the parent."""
        if by == "endpoint":
            response = self._send(
                "POST", _video_path(video_id) + "/remix", json={"prompt": prompt}, video_id=video_id, creates=True
            )
            return self._video(response, creates=True)
        if by == "create":
            return self._create({"prompt": prompt, "remix_video_id": video_id}, None)
        raise ValueError(f"remix by {by!r}: use 'endpoint' or 'create'")

    def download(
        self,
        video_id: str,
        fileobj: BinaryIO,
        *,
        variant: str = "video",
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> Download:
        """Stream GET /videos/{id}/content to fileobj, following redirects (at most MAX_REDIRECTS, also to another
        host, which never gets the key). On IncompleteDownload the file holds a partial body: discard it and
        download again."""
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}: use one of {', '.join(VARIANTS)}")
        path = _video_path(video_id) + "/content"
        started = time.monotonic()
        response = self._open_content(path, variant)
        try:
            request_id = _request_id(response) or next(filter(None, map(_request_id, response.history)), None)
            if response.status_code >= 300:
                try:
                    if _small(response):
                        response.read()
                except httpx.HTTPError:
                    pass  # the status alone still says what happened
                keyless = self._auth_name not in response.request.headers
                if keyless and response.status_code in (401, 403):
                    # a signed link that refuses us has expired or was mangled: the next try gets a fresh one
                    raise IncompleteDownload(
                        f"the download link ({response.request.url.host}) answered HTTP {response.status_code}",
                        status=response.status_code,
                        request_id=request_id,
                    )
                raise self._http_error(response, video_id=video_id)
            expected = _int_or(response.headers.get("content-length"), None)
            scanner = Mp4Scanner() if variant == "video" else None
            written = 0
            try:
                for chunk in response.iter_bytes(chunk_size):
                    fileobj.write(chunk)
                    written += len(chunk)
                    if scanner:
                        scanner.feed(chunk)
            except httpx.HTTPError as exc:
                raise IncompleteDownload(
                    f"the download broke off after {written} of {expected or '?'} bytes ({type(exc).__name__})",
                    status=response.status_code,
                    request_id=request_id,
                ) from None
            except Mp4Error as exc:
                raise IncompleteDownload(
                    f"the video is not a valid MP4: {exc}", status=response.status_code, request_id=request_id
                ) from None
            # Content-Length counts the bytes on the wire (the same as written, unless a server ignored
            # our Accept-Encoding: identity and compressed anyway)
            received = response.num_bytes_downloaded
            if expected is not None and received != expected:
                raise IncompleteDownload(
                    f"the download ended after {received} of {expected} bytes",
                    status=response.status_code,
                    request_id=request_id,
                )
            duration = None
            if scanner:
                try:
                    duration = scanner.finish()
                except Mp4Error as exc:
                    raise IncompleteDownload(
                        f"the video is not a complete MP4: {exc}", status=response.status_code, request_id=request_id
                    ) from None
        finally:
            response.close()
        elapsed = time.monotonic() - started
        logger.debug("GET %s variant=%s: %d bytes in %.2fs request_id=%s", path, variant, written, elapsed, request_id)
        content_type = response.headers.get("content-type")
        return Download(
            bytes=written,
            content_type=content_type.split(";")[0].strip() if content_type else None,
            duration_seconds=duration,
            request_id=request_id,
        )

    # --- plumbing ----------------------------------------------------------------------------------

    def _open_content(self, path: str, variant: str) -> httpx.Response:
        """GET the content as a stream, following redirects ourselves: httpx would keep a custom auth header
        (`api-key`) on a redirect to another host. The key goes only where dialects.key_may_go_to allows."""
        url: httpx.URL | str = path
        params = {"variant": variant}
        history: list[httpx.Response] = []
        while True:
            request = self._http.build_request(
                "GET", url, params=params, headers={"Accept": "*/*", "Accept-Encoding": "identity"}
            )
            if history and not dialects.key_may_go_to(request.url, self.base_url):
                del request.headers[self._auth_name]
            try:
                response = self._http.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise self._transport_error(exc, "GET", path, creates=False) from None
            location = response.headers.get("location")
            if response.status_code not in REDIRECT_STATUSES or not location:
                response.history = history
                return response
            response.close()
            history.append(response)
            if len(history) > MAX_REDIRECTS:
                raise ProviderUnavailable(
                    f"GET /{path} was redirected more than {MAX_REDIRECTS} times",
                    status=response.status_code,
                    request_id=_request_id(history[0]),
                )
            url, params = request.url.join(location), None
            logger.debug("GET /%s redirected to %s://%s", path, url.scheme, url.host)

    def _create(self, fields: dict, input_reference) -> Video:
        # multipart always, as the SDKs send it: (None, value) parts are plain form fields
        files = [(name, (None, value)) for name, value in fields.items()]
        if input_reference is not None:
            filename, content, content_type = input_reference
            files.append(("input_reference", (filename, content, content_type)))
        # a 404 here is about the remixed video (an unknown model says model_not_found)
        response = self._send("POST", "videos", files=files, creates=True, video_id=fields.get("remix_video_id"))
        return self._video(response, creates=True)

    def _send(self, method, path, *, video_id=None, creates=False, **kwargs) -> httpx.Response:
        started = time.monotonic()
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, method, path, creates=creates) from None
        logger.debug(
            "%s %s -> %s in %.2fs request_id=%s",
            method,
            path,
            response.status_code,
            time.monotonic() - started,
            _request_id(response),
        )
        if response.status_code >= 300:
            raise self._http_error(response, video_id=video_id, creates=creates)
        return response

    def _transport_error(self, exc, method, path, *, creates) -> ProviderError:
        name = type(exc).__name__
        if isinstance(exc, outbound.Refused):
            # refused before a byte was sent (a transport from outbound.guard): never an unknown outcome
            return URLRefused(f"{method} /{path} was not sent: {exc}")
        # Never sent (or not sent completely): the provider cannot have acted on it.
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            return ProviderUnreachable(f"{method} /{path} was not sent: {name} to {self.base_url}")
        if isinstance(
            exc,
            (
                httpx.PoolTimeout,
                httpx.WriteError,
                httpx.WriteTimeout,
                httpx.UnsupportedProtocol,
                httpx.ProxyError,
            ),
        ):
            return ProviderUnavailable(f"{method} /{path} was not sent: {name} to {self.base_url}")
        if creates:
            # sent, no answer: the job may exist and be billed; the caller must look before trying again
            return OutcomeUnknown(f"{method} /{path} was sent but no answer came back ({name}); the job may exist")
        if isinstance(exc, httpx.TransportError):
            return ProviderUnavailable(f"{method} /{path} failed: {name} from {self.base_url}")
        return ProviderError(f"{method} /{path} failed: {name}")

    def _http_error(self, response: httpx.Response, *, video_id=None, creates=False) -> ProviderError:
        status = response.status_code
        request_id = _request_id(response)
        parsed = None
        try:
            if _small(response):
                parsed = response.json()
        except (ValueError, httpx.ResponseNotRead):
            parsed = None
        fields = dialects.error_fields(parsed)
        message = dialects.readable_message(fields)
        message = self._clean(message) if message else f"HTTP {status} {response.reason_phrase}".strip()
        code, kind = fields["code"], fields["type"]
        info = {"status": status, "code": code, "type": kind, "param": fields["param"], "request_id": request_id}
        labels = {code, kind}
        if status == 429:
            if labels & BILLING_CODES:
                return OutOfCredit(message, **info)
            return RateLimited(message, retry_after=_retry_after(response.headers), **info)
        if status == 401:
            return InvalidKey(message, **info)
        if "model_not_found" in labels:
            return ModelNotFound(message, **info)
        if dialects.is_moderation(fields):
            return Moderated(message, **info)
        if creates and status == 404 and labels & NO_DEPLOYMENT_LABELS:
            return DeploymentNotReady(message, **info)
        if video_id is not None and (status == 404 or labels & NOT_FOUND_CODES):
            return VideoNotFound(message, **info)
        if status in (400, 413, 415, 422):
            return InvalidRequest(message, **info)
        if status == 402 or labels & BILLING_CODES:
            return OutOfCredit(message, **info)
        if status == 504 and creates:
            # a gateway gave up waiting for the provider, which may still have accepted the job
            return OutcomeUnknown(message + "; the job may exist", **info)
        if status in (408, 409) or status >= 500:
            return ProviderUnavailable(message, **info)
        return ProviderError(message, **info)

    def _noted(self, video: Video) -> Video:
        if not video.status_known:
            dialects.note_unknown_status(self.label, video.provider_status)
        return video

    def _video(self, response: httpx.Response, *, creates=False) -> Video:
        try:
            return self._noted(
                Video.from_dict(
                    self._json(response),
                    request_id=_request_id(response),
                    poll_after_ms=_int_or(response.headers.get("openai-poll-after-ms"), None),
                )
            )
        except ProviderError as exc:
            if not creates:
                raise
            # a 2xx we cannot read: the job was probably accepted, and we do not know its id
            raise OutcomeUnknown(
                f"the provider accepted the request but its answer is unreadable ({exc.message}); the job may exist",
                status=response.status_code,
                request_id=_request_id(response),
            ) from None

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            raise ProviderUnavailable(
                f"the provider answered HTTP {response.status_code} with a body that is not JSON",
                status=response.status_code,
                request_id=_request_id(response),
            ) from None
        if not isinstance(data, dict):
            raise ProviderError(
                "the provider answered with JSON that is not an object",
                status=response.status_code,
                request_id=_request_id(response),
            )
        return data

    def _clean(self, text: str) -> str:
        # some providers echo the key they were given in their error message
        key = self._http.headers.get(self._auth_name, "").removeprefix("Bearer ")
        if len(key) >= 8 and key in text:
            text = text.replace(key, f"••••{self._last4}")
        return text[:2000]


def data_url(content: bytes | BinaryIO, content_type: str) -> str:
    """`data:<type>;base64,...` of an image (bytes or a file object read from where it is)."""
    raw = content if isinstance(content, bytes | bytearray) else content.read()
    return f"data:{content_type};base64,{base64.b64encode(raw).decode('ascii')}"


def _video_path(video_id: str) -> str:
    if not video_id:
        raise ValueError("a video id is required")
    return "videos/" + quote(str(video_id), safe="")


def _request_id(response: httpx.Response) -> str | None:
    return response.headers.get("x-request-id")


def _small(response: httpx.Response) -> bool:
    length = _int_or(response.headers.get("content-length"), None)
    return length is None or length <= MAX_ERROR_BODY


def _retry_after(headers) -> float | None:
    """Seconds to wait: retry-after-ms first (precise), else retry-after (seconds; an HTTP date is ignored)."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            continue
        if seconds >= 0:
            return seconds
    return None
