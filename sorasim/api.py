"""The `/v1/videos` API, shaped like the reference (docs: shared/reference/video-api.md).

Each handler is wrapped by `endpoint`, which in order: names the route for the counters, identifies the key
(401), counts a create attempt, takes a rate-limit slot (429), adds injected latency, and maybe answers with an
injected 5xx. Handlers do constant work per request except `list`, which walks the key's own jobs.
"""

import asyncio
import base64
import binascii
import functools
import io
import json
import re
import time

import anyio
from PIL import Image, UnidentifiedImageError
from starlette.datastructures import UploadFile
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

from . import dialects, media
from .errors import ApiError, bad_request, not_found
from .sim import mask

MODEL_RE = re.compile(r"^(sora-2(?:-pro)?)(?:-\d{4}-\d{2}-\d{2})?$")
SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024", "1920x1080", "1080x1920")
MODEL_SIZES = {"sora-2": ("720x1280", "1280x720"), "sora-2-pro": SIZES}
SECONDS = ("4", "8", "12", "16", "20")
NO_ROUTE = {"newapi": ("list", "delete")}  # a new-api relay routes neither
CREDENTIAL_HEADERS = ("authorization", "api-key", "x-litellm-api-key")
MAX_PROMPT = 32000
MAX_IMAGE_BYTES = 20 * 1024 * 1024
IMAGE_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
CREATE_FIELDS = ("prompt", "model", "seconds", "size", "input_reference", "remix_video_id")
BRACKET_RE = re.compile(r"^(\w+)\[(\w+)\]$")


def endpoint(op, template):
    def decorate(handler):
        @functools.wraps(handler)
        async def wrapper(request):
            sim = request.app.state.sim
            azure_path = request.url.path.startswith("/openai/")  # Azure's /openai/v1 base
            request.scope["sorasim.route"] = f"{request.method} {'/openai' if azure_path else ''}{template}"
            headers = {}
            dialect = "azure" if azure_path else sim.config.dialect
            try:
                state, token, dialect = sim.authenticate(request, azure_path)
                request.scope["sorasim.dialect"] = dialect
                if state is not None and op in ("create", "remix"):
                    sim.counters[state.key].creates_attempted += 1
                if state is None or not state.valid:
                    raise auth_error(dialect, token)
                if azure_path != (dialect == "azure") or op in NO_ROUTE.get(dialect, ()):
                    raise ApiError(404, f"Invalid URL ({request.method} {request.url.path})", kind="no_route")
                headers = sim.rate_limit(state)
                await sim.inject_latency(op, state.key)
                sim.inject_error(op, state.key)
                response = await handler(request, sim, state)
            except ApiError as exc:
                if dialect == "openai":
                    response = exc.response()
                else:
                    response = dialects.error_response(dialect, exc, request.scope.get("sorasim.request_id", ""))
            for name, value in headers.items():
                response.headers.setdefault(name, value)
            return response

        return wrapper

    return decorate


def auth_error(dialect, token):
    if dialect == "litellm":
        message = dialects.auth_message(dialect, token)
    elif not token:
        message = "You didn't provide an API key. Provide it in the Authorization header as 'Bearer YOUR_KEY'."
    else:
        message = f"Incorrect API key provided: {mask(token)}."
    return ApiError(401, message, code="invalid_api_key", kind="auth")


# request bodies
async def read_fields(request, max_prompt_bytes=4 * MAX_PROMPT):
    """The body as a dict: JSON, or multipart / urlencoded with `a[b]` folded into nested dicts."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        try:
            form = await request.form(max_part_size=max_prompt_bytes + 1024)
        except Exception as exc:  # python-multipart / starlette parse errors
            raise bad_request(f"Could not parse the form body: {exc}") from None
        fields = {}
        for name, value in form.multi_items():
            match = BRACKET_RE.match(name)
            if match:
                outer = fields.setdefault(match[1], {})
                if not isinstance(outer, dict):
                    raise bad_request(f"Invalid type for '{match[1]}'.", param=match[1], code="invalid_type")
                outer[match[2]] = value
            else:
                fields[name] = value
        return fields
    body = await request.body()
    if not body.strip():
        return {}
    if content_type not in ("application/json", ""):
        raise bad_request(f"Unsupported content type {content_type!r}: send JSON or multipart/form-data.")
    try:
        data = json.loads(body)
    except ValueError:
        raise bad_request("We could not parse the JSON body of your request. The API expects a JSON payload.") from None
    if not isinstance(data, dict):
        raise bad_request("The JSON body must be an object.")
    return data


def reject_unknown(fields, allowed):
    for name in fields:
        if name not in allowed:
            raise bad_request(f"Unrecognized request argument supplied: {name}", param=name, code="unknown_parameter")


def check_prompt(fields):
    prompt = fields.get("prompt")
    if prompt is None:
        raise bad_request("Missing required parameter: 'prompt'.", param="prompt", code="missing_required_parameter")
    if not isinstance(prompt, str):
        raise bad_request("Invalid type for 'prompt': expected a string.", param="prompt", code="invalid_type")
    if not prompt.strip():
        raise bad_request(
            "Invalid 'prompt': string too short. Expected a string with minimum length 1, but got an "
            "empty string instead.",
            param="prompt",
            code="string_below_min_length",
        )
    if len(prompt) > MAX_PROMPT:
        raise bad_request(
            f"Invalid 'prompt': string too long. Expected a string with maximum length {MAX_PROMPT}, "
            f"but got a string with length {len(prompt)} instead.",
            param="prompt",
            code="string_above_max_length",
        )
    return prompt


def check_model(value):
    if not isinstance(value, str):
        raise bad_request("Invalid type for 'model': expected a string.", param="model", code="invalid_type")
    match = MODEL_RE.match(value)
    if not match:
        raise ApiError(
            404,
            f"The model '{value}' does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )
    return match[1]


def check_seconds(value):
    if not isinstance(value, str):
        kind = {int: "an integer", float: "a number", bool: "a boolean"}.get(type(value), "another type")
        raise bad_request(
            f"Invalid type for 'seconds': expected one of '4', '8', '12', '16', or '20', but got {kind} instead.",
            param="seconds",
            code="invalid_type",
        )
    if value not in SECONDS:
        raise bad_request(
            f"Invalid value: '{value}'. Supported values are: '4', '8', '12', '16', and '20'.",
            param="seconds",
            code="invalid_value",
        )
    return value


def check_size(value, family):
    if not isinstance(value, str):
        raise bad_request("Invalid type for 'size': expected a string.", param="size", code="invalid_type")
    if value not in SIZES:
        raise bad_request(
            f"Invalid value: '{value}'. Supported values are: {', '.join(map(repr, SIZES))}.",
            param="size",
            code="invalid_value",
        )
    if value not in MODEL_SIZES[family]:
        raise bad_request(
            f"Invalid value: '{value}' is not supported by {family}. Supported sizes: "
            f"{', '.join(map(repr, MODEL_SIZES[family]))}.",
            param="size",
            code="invalid_value",
        )
    return value


def check_image(data, size):
    """Checked by content, not by name or declared type: JPEG, PNG or WebP, exactly `size` pixels."""
    if len(data) > MAX_IMAGE_BYTES:
        raise bad_request(
            "Invalid 'input_reference': the image is larger than 20 MB.", param="input_reference", code="invalid_image"
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format
            dimensions = image.size
            image.load()  # a truncated or corrupt file fails here, not in the encoder
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        kind = None
    if kind not in IMAGE_FORMATS:
        raise bad_request(
            "Invalid file format for 'input_reference'. Supported formats are image/jpeg, image/png and image/webp.",
            param="input_reference",
            code="invalid_image_format",
        )
    width, height = (int(v) for v in size.split("x"))
    if dimensions != (width, height):
        raise bad_request(
            f"Invalid 'input_reference': the image is {dimensions[0]}x{dimensions[1]} pixels but must "
            f"match the requested size {size} exactly.",
            param="input_reference",
            code="invalid_image_size",
        )
    return data, IMAGE_FORMATS[kind]


async def reference_bytes(value):
    """The reference image's bytes from an upload, or from {"image_url": ...} (data: or http(s) URL)."""
    if isinstance(value, UploadFile):
        return await value.read(MAX_IMAGE_BYTES + 1)
    if isinstance(value, bytes):
        return value
    if not isinstance(value, dict):
        raise bad_request(
            "Invalid type for 'input_reference': expected an image file or an object with image_url or file_id.",
            param="input_reference",
            code="invalid_type",
        )
    if "file_id" in value and "image_url" not in value:
        raise bad_request(f"No such File object: {value['file_id']}", param="input_reference", code="invalid_value")
    url = value.get("image_url")
    if not isinstance(url, str) or not url:
        raise bad_request(
            "Invalid 'input_reference': expected image_url or file_id.", param="input_reference", code="invalid_value"
        )
    if url.startswith("data:"):
        header, _, payload = url.partition(",")
        try:
            return base64.b64decode(payload, validate=True) if ";base64" in header else payload.encode()
        except (binascii.Error, ValueError):
            raise bad_request(
                "Invalid 'input_reference.image_url': bad base64 data.", param="input_reference", code="invalid_value"
            ) from None
    if url.startswith(("http://", "https://")):  # nothing can be fetched from here: refused as an unreachable URL
        raise bad_request(
            f"Could not fetch the image at {url}: the URL could not be reached. Upload the image or pass a data: URL.",
            param="input_reference",
            code="invalid_image_url",
        )
    raise bad_request(
        "Invalid 'input_reference.image_url': expected an http(s) or data: URL.",
        param="input_reference",
        code="invalid_value",
    )


def poll_headers(job):
    status, _ = job.view()
    return {} if status in ("completed", "failed") else {"openai-poll-after-ms": str(job.poll_after_ms())}


class CutOffResponse(Response):
    """Promise `length` bytes, send fewer, and return: uvicorn then closes the connection mid-body, so the
    client sees a broken connection (an ambiguous outcome) instead of an answer."""

    def __init__(self, status_code, headers, length, chunks):
        self.status_code = status_code
        self.length = length
        self.chunks = chunks  # an async iterator of the bytes actually sent
        self.extra = headers

    async def __call__(self, scope, receive, send):
        raw = [(b"content-length", str(self.length).encode())]
        raw += [(k.lower().encode(), v.encode()) for k, v in self.extra.items()]
        await send({"type": "http.response.start", "status": self.status_code, "headers": raw})
        async for chunk in self.chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        # returning without the final body message is the point: the server aborts the connection

    @property
    def headers(self):  # the endpoint wrapper adds rate-limit headers through this
        return self.extra


async def _once(data):
    yield data


async def _file_prefix(path, limit):
    async with await anyio.open_file(path, "rb") as f:
        left = limit
        while left > 0:
            chunk = await f.read(min(64 * 1024, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


# handlers
@endpoint("create", "/v1/videos")
async def create_video(request, sim, state):
    fields = await read_fields(request)
    reject_unknown(fields, CREATE_FIELDS)
    prompt = check_prompt(fields)
    dialect = request.scope["sorasim.dialect"]
    if dialect == "azure" and state.deploying_seconds():
        raise ApiError(404, dialects.azure_no_deployment(fields.get("model", "sora-2")),
                       type="video_generation_user_error")
    refusal = dialects.azure_refusal(prompt) if dialect == "azure" else None
    if refusal is not None:
        message, code, extra = refusal
        raise ApiError(400, message, param="prompt", code=code, extra=extra)
    source = None
    if fields.get("remix_video_id") is not None:
        source = remix_source(sim, state, fields["remix_video_id"], "remix_video_id")
    model = fields.get("model", source.model if source else "sora-2")
    family = check_model(model)
    seconds = check_seconds(fields.get("seconds", source.seconds if source else "4"))
    size = check_size(fields.get("size", source.size if source else "720x1280"), family)
    reference = None
    if fields.get("input_reference") is not None:
        data = await reference_bytes(fields["input_reference"])
        reference = await asyncio.to_thread(check_image, data, size)
    job = sim.accept(
        state,
        model=model,
        family=family,
        prompt=prompt,
        size=size,
        seconds=seconds,
        remixed_from=source.id if source else None,
        reference=reference,
        dialect=dialect,
    )
    return video_response(sim, state, job, dialect)


@endpoint("remix", "/v1/videos/{video_id}/remix")
async def remix_video(request, sim, state):
    source = remix_source(sim, state, request.path_params["video_id"], "video_id")
    fields = await read_fields(request)
    reject_unknown(fields, ("prompt",))
    prompt = check_prompt(fields)
    family = MODEL_RE.match(source.model)[1]
    job = sim.accept(
        state,
        model=source.model,
        family=family,
        prompt=prompt,
        size=source.size,
        seconds=source.seconds,
        remixed_from=source.id,
        dialect=request.scope["sorasim.dialect"],
    )
    return video_response(sim, state, job, request.scope["sorasim.dialect"])


def remix_source(sim, state, video_id, param):
    if not isinstance(video_id, str):
        raise bad_request(f"Invalid type for '{param}': expected a string.", param=param, code="invalid_type")
    source = sim.store.visible(state.key, video_id)
    if source is None:
        raise not_found(f"Video with id '{video_id}' not found.", param=param)
    if source.view()[0] != "completed":
        raise bad_request(
            f"Video '{video_id}' is {source.view()[0]}: only a completed video can be remixed.",
            param=param,
            code="invalid_state",
        )
    return source


def video_response(sim, state, job, dialect):
    body = job.to_api(now=job.created)  # a new job is queued, however long writing its files took
    body = dialects.create_answer(dialect, dialects.shape_video(dialect, body))
    headers = {"openai-poll-after-ms": str(job.poll_after_ms())} if dialects.sends_poll_hint(dialect) else {}
    if sim.fire("drop_create_response", sim.faults.drop_create_response_rate, state.key):
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
        return CutOffResponse(200, headers, len(data) + 64, _once(data[: len(data) // 2]))
    return JSONResponse(body, headers=headers)


@endpoint("retrieve", "/v1/videos/{video_id}")
async def retrieve_video(request, sim, state):
    job = find(sim, state, request.path_params["video_id"])
    dialect = request.scope["sorasim.dialect"]
    headers = poll_headers(job) if dialects.sends_poll_hint(dialect) else {}
    return JSONResponse(dialects.shape_video(dialect, job.to_api()), headers=headers)


def find(sim, state, video_id):
    job = sim.store.visible(state.key, video_id)
    if job is None:
        raise not_found(f"Video with id '{video_id}' not found.", param="video_id")
    return job


@endpoint("list", "/v1/videos")
async def list_videos(request, sim, state):
    query = request.query_params
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        raise bad_request(
            "Invalid type for 'limit': expected an integer.", param="limit", code="invalid_type"
        ) from None
    if not 0 <= limit <= 100:
        raise bad_request(
            f"Invalid 'limit': {limit}. Expected a value between 0 and 100.", param="limit", code="invalid_value"
        )
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise bad_request(
            f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.", param="order", code="invalid_value"
        )
    ids = [i for i in sim.store.order[state.key] if not sim.store.jobs[i].deleted]
    if order == "desc":
        ids.reverse()
    after = query.get("after")
    if after:
        try:
            ids = ids[ids.index(after) + 1 :]
        except ValueError:
            raise bad_request(
                f"Invalid 'after': no video with id '{after}'.", param="after", code="invalid_value"
            ) from None
    page = ids[:limit]
    now = time.time()
    dialect = request.scope["sorasim.dialect"]
    return JSONResponse(
        {
            "object": "list",
            "data": [dialects.shape_video(dialect, sim.store.jobs[i].to_api(now), now) for i in page],
            "first_id": page[0] if page else None,
            "last_id": page[-1] if page else None,
            "has_more": len(ids) > len(page),
        }
    )


@endpoint("delete", "/v1/videos/{video_id}")
async def delete_video(request, sim, state):
    job = find(sim, state, request.path_params["video_id"])
    status = job.view()[0]
    if status not in ("completed", "failed"):
        raise bad_request(
            f"Video '{job.id}' is {status}: only a completed or failed video can be deleted.",
            param="video_id",
            code="invalid_state",
        )
    sim.delete(job)
    return JSONResponse({"id": job.id, "object": "video.deleted", "deleted": True})


@endpoint("content", "/v1/videos/{video_id}/content")
async def download_content(request, sim, state):
    variant = request.query_params.get("variant", "video")
    if variant not in media.ASSETS:
        raise bad_request(
            f"Invalid value: '{variant}'. Supported values are: 'video', 'thumbnail' and 'spritesheet'.",
            param="variant",
            code="invalid_value",
        )
    job = find(sim, state, request.path_params["video_id"])
    status = job.view()[0]
    if status == "failed":
        raise bad_request(f"Video '{job.id}' failed; it has no content.", param="video_id", code="video_failed")
    if status != "completed":
        raise bad_request(
            f"Video '{job.id}' is not ready yet (status {status}); poll GET /v1/videos/{job.id} until it is completed.",
            param="video_id",
            code="video_not_ready",
        )
    name, content_type = media.ASSETS[variant]
    path = sim.store.media_dir(job.id) / name
    if time.time() >= job.expires_at or not path.exists():
        raise not_found(
            f"The assets of video '{job.id}' expired at {job.expires_at}.", param="video_id", code="video_expired"
        )
    if request.scope["sorasim.dialect"] == "newapi":  # the relay hands out a signed URL of its storage
        token = dialects.sign_content(job.id, variant)
        return RedirectResponse(f"{request.base_url}_cdn/{token}", status_code=302)
    return serve_asset(sim, job, variant)


def serve_asset(sim, job, variant):
    name, content_type = media.ASSETS[variant]
    path = sim.store.media_dir(job.id) / name
    if sim.fire("truncate_download", sim.faults.truncate_download_rate, job.key):
        size = path.stat().st_size
        sent = int(size * sim.rng("truncate_fraction").uniform(0.1, 0.9))
        return CutOffResponse(200, {"content-type": content_type}, size, _file_prefix(path, sent))
    return FileResponse(path, media_type=content_type)


async def signed_content(request):
    """`GET /_cdn/{token}`: a newapi key's content behind a signed URL; no auth, and a request carrying a credential
    is refused (as storage behind presigned URLs does)."""
    sim = request.app.state.sim
    request.scope["sorasim.route"] = "GET /_cdn/{token}"
    try:
        decoded = dialects.read_content_token(request.path_params["token"])
        if decoded is None:
            raise ApiError(403, "The signature of this URL is invalid or it has expired.", code="invalid_signature")
        video_id, variant = decoded
        job = sim.store.jobs.get(video_id)
        if job is None or job.deleted or variant not in media.ASSETS:
            raise not_found("The object does not exist.", code="not_found")
        request.scope["sorasim.key"] = job.key
        if any(name in request.headers for name in CREDENTIAL_HEADERS):
            message = "A signed URL must be fetched without credentials: drop the auth header."
            raise ApiError(401, message, code="unexpected_credentials")
        path = sim.store.media_dir(job.id) / media.ASSETS[variant][0]
        if time.time() >= job.expires_at or not path.exists():
            raise not_found(f"The assets of video '{job.id}' expired at {job.expires_at}.", code="video_expired")
        return serve_asset(sim, job, variant)
    except ApiError as exc:
        return exc.response()
