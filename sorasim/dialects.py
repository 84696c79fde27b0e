"""Provider dialects: how one key's wire differs from the `openai` shape (ids, create answer, status words, auth
header, error bodies, content by redirect). Jobs, money and faults are the same in every dialect.

Shapes come from the gateways themselves: new-api (QuantumNous/new-api: relay/channel/task/sora/adaptor.go for
the status words, controller/relay.go RelayNotFound, dto.TaskError, middleware abortWithOpenAiMessage), LiteLLM
(litellm/types/videos/utils.py encode_video_id_with_provider; ProxyException bodies with `code` as a string) and
Azure OpenAI (the `{"error": {"code": "401", ...}}` gateway errors and content-filter `innererror`).
"""

import base64
import hashlib
import hmac
import itertools
import json
import random
import secrets
import time

from starlette.responses import JSONResponse

from .state import new_video_id

# auth header styles each dialect accepts
AUTH_STYLES = {
    "openai": ("bearer",),
    "newapi": ("bearer",),
    "litellm": ("bearer", "x-litellm-api-key"),
    "azure": ("api-key",),
}

# newapi: six vocabularies, one per job, read from its id (the server hands them out in turn)
NEWAPI_WORDS = {
    "queued": ("NOT_START", "pending"),
    "in_progress": ("processing", "running", "IN_PROGRESS"),
    "completed": ("SUCCESS", "succeeded", "success"),
    "failed": ("FAILURE", "failed"),
}
VOCABULARIES = 6
_next_vocabulary = itertools.count()

AZURE_FILTER_WORD = "azure-content-filter"
AZURE_MISALIGNMENT_WORD = "azure-misalignment"
CDN_TOKEN_SECONDS = 600


def new_id(dialect, model):
    if dialect == "newapi":
        tail = random.randrange(256 // VOCABULARIES) * VOCABULARIES + next(_next_vocabulary) % VOCABULARIES
        return f"task_{secrets.token_hex(15)}{tail:02x}"
    video_id = new_video_id()
    if dialect == "litellm":
        assembled = f"litellm:custom_llm_provider:openai;model_id:{model};video_id:{video_id}"
        return "video_" + base64.b64encode(assembled.encode()).decode()
    return video_id


def status_word(dialect, job_id, status):
    if dialect != "newapi" or status not in NEWAPI_WORDS:
        return status
    try:
        vocabulary = int(job_id[-2:], 16) % VOCABULARIES
    except ValueError:
        vocabulary = 0
    words = NEWAPI_WORDS[status]
    return words[vocabulary % len(words)]


def shape_video(dialect, body, now=None):
    """The Video object as this dialect shows it. Past `expires_at` every dialect says `expired` (the job past
    retention; its content answers 404 video_expired)."""
    expires_at = body["expires_at"]
    if body["status"] == "completed" and expires_at is not None:
        if (time.time() if now is None else now) >= expires_at:
            body = dict(body, status="expired")
    if dialect == "newapi":
        body = dict(body, status=status_word(dialect, body["id"], body["status"]))
    return body


def create_answer(dialect, body):
    return {"task_id": body["id"]} if dialect == "newapi" else body


def sends_poll_hint(dialect):
    return dialect in ("openai", "azure")


# errors
LITELLM_NAMES = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    408: "Timeout",
    429: "RateLimitError",
    500: "InternalServerError",
    502: "BadGatewayError",
    503: "ServiceUnavailableError",
    504: "Timeout",
}
AZURE_AUTH_MESSAGE = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an "
    "active subscription and use a correct regional API endpoint for your resource."
)


def error_body(dialect, exc, request_id=""):
    """(status, body) of an ApiError in this dialect's shape; `exc.kind` marks auth, rate-limit and no-route errors."""
    status, kind = exc.status, exc.kind
    openai_body = {"error": {"message": exc.message, "type": exc.type, "param": exc.param, "code": exc.code}}
    if exc.extra:
        openai_body["error"].update(exc.extra)
    if dialect == "newapi":
        if kind == "auth":
            return status, {
                "error": {"message": f"无效的令牌 (request id: {request_id})", "type": "new_api_error", "code": ""}
            }
        if kind == "rate_limit":
            return status, {"error": {"message": exc.message, "type": "new_api_error", "code": exc.code}}
        if kind == "no_route":
            return status, {"error": {"message": exc.message, "type": "invalid_request_error", "param": "", "code": ""}}
        if kind == "not_found":
            return 400, {"code": "task_not_exist", "message": "task_not_exist", "data": None}
        if exc.code == "insufficient_quota":
            return 403, {"code": "quota_not_enough", "message": "user quota is not enough", "data": None}
        default = "invalid_request" if status < 500 else "bad_response_status_code"
        return status, {"code": exc.code or default, "message": exc.message, "data": None}
    if dialect == "litellm":
        if kind == "auth":
            return status, {"error": {"message": exc.message, "type": "auth_error", "param": "None", "code": "401"}}
        name = LITELLM_NAMES.get(status, "APIError")
        message = f"litellm.{name}: OpenAIException - {exc.message}"
        param = "None" if exc.param is None else str(exc.param)
        return status, {"error": {"message": message, "type": exc.type, "param": param, "code": str(status)}}
    if dialect == "azure":
        if kind == "auth":
            return status, {"error": {"code": "401", "message": AZURE_AUTH_MESSAGE}}
        if kind == "no_route":
            return status, {"error": {"code": "404", "message": "Resource not found"}}
        if kind == "rate_limit":
            seconds = exc.headers.get("retry-after", "1")
            message = (
                "Requests to the Videos_Create Operation under Azure OpenAI API version v1 have exceeded call rate "
                f"limit of your current OpenAI pricing tier. Please retry after {seconds} seconds."
            )
            return status, {"error": {"code": "429", "message": message}}
    return status, openai_body


def error_response(dialect, exc, request_id=""):
    status, body = error_body(dialect, exc, request_id)
    return JSONResponse(body, status_code=status, headers=exc.headers)


def auth_message(dialect, token):
    """The message of a 401 for a missing or unknown key (openai's is built by the caller, as before)."""
    if dialect == "litellm":
        if not token:
            return "Authentication Error, No api key passed in."
        return (
            f"Authentication Error, Invalid proxy server token passed. Received API Key = {_litellm_mask(token)}, "
            f"Key Hash (Token) ={hashlib.sha256(token.encode()).hexdigest()}. Unable to find token in cache or "
            "`LiteLLM_VerificationTokenTable`"
        )
    return "Invalid token."


def _litellm_mask(token):
    return f"sk-...{token[-4:]}" if len(token) > 4 else "sk-..."


# azure at create
def azure_no_deployment(model):
    """What Azure answers (404, type video_generation_user_error) while the deployment named by `model` does not
    exist, as for minutes after it was made."""
    return (f"The API deployment '{model}' for this resource does not exist. If you created the deployment within "
            "the last 5 minutes, please wait a moment and try again.")



def azure_refusal(prompt):
    """Extra error fields for a prompt Azure's safety system refuses at once, or None."""
    lowered = prompt.lower()
    if AZURE_FILTER_WORD in lowered:
        severities = {"hate": "safe", "self_harm": "safe", "sexual": "safe", "violence": "medium"}
        result = {name: {"filtered": level != "safe", "severity": level} for name, level in severities.items()}
        result["jailbreak"] = {"filtered": False, "detected": False}
        return (
            "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. "
            "Please modify your prompt and retry.",
            "content_filter",
            {"innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": result}},
        )
    if AZURE_MISALIGNMENT_WORD in lowered:
        return (
            "Your request was blocked by the safety system: the prompt does not align with the usage policy.",
            "sentinel_block",
            {
                "misalignment": {
                    "error_type": "policy_misalignment",
                    "review_target": "prompt",
                    "detailed_explanation": "The prompt asks for a depiction the deployment's policy does not allow.",
                    "steer": "Describe the scene without the disallowed element and try again.",
                }
            },
        )
    return None


# signed content URLs (newapi)
_CDN_SECRET = secrets.token_bytes(32)


def _b64(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def sign_content(video_id, variant, now=None):
    expires = int((now or time.time()) + CDN_TOKEN_SECONDS)
    payload = _b64(json.dumps({"v": video_id, "a": variant, "e": expires}).encode())
    signature = _b64(hmac.new(_CDN_SECRET, payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def read_content_token(token):
    """(video_id, variant) of a valid, unexpired token, else None."""
    payload, _, signature = token.partition(".")
    expected = _b64(hmac.new(_CDN_SECRET, payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(signature, expected):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    if data.get("e", 0) < time.time():
        return None
    return data.get("v"), data.get("a")
