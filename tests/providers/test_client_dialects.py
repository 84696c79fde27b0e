"""The client's dialect layer: a live sorasim speaking new-api's, LiteLLM's and Azure's accents over real HTTP
(status words, `task_id`, auth headers, a content redirect, error bodies), the words sorasim never says (unknown,
cancelled) through a transport of our own, and the key's auth header from the model and the staff form."""

import http.server
import io
import logging
import threading
import uuid

import httpx
import pytest

from providers import dialects
from providers.client import (
    DeploymentNotReady,
    InvalidKey,
    InvalidRequest,
    Moderated,
    OutOfCredit,
    ProviderError,
    Video,
    VideoClient,
    VideoNotFound,
)
from tests.fixtures.sorasim import MODERATE_WORD
from tests.providers.test_client import wait_done

NEWAPI_WORDS = {
    "queued": {"NOT_START", "pending"},
    "in_progress": {"processing", "running", "IN_PROGRESS"},
    "completed": {"SUCCESS", "succeeded", "success"},
    "failed": {"FAILURE", "failed"},
}


def dialect_key(sim, dialect, **fields):
    """A fresh sorasim key speaking `dialect` (unlimited credit unless told)."""
    key = f"sk-{dialect}-{uuid.uuid4().hex[:12]}"
    sim.control.set_key(key, dialect=dialect, **fields)
    return key


@pytest.fixture
def newapi(sim):
    key = dialect_key(sim, "newapi")
    with VideoClient(sim.api_url, key, timeout=10) as client:
        client.key = key
        yield client


@pytest.fixture
def azure(sim):
    key = dialect_key(sim, "azure")
    with VideoClient(sim.url + "/openai/v1", key, auth_header="api-key", timeout=10) as client:
        client.key = key
        yield client


@pytest.fixture
def litellm(sim):
    key = dialect_key(sim, "litellm")
    with VideoClient(sim.api_url, key, auth_header="x-litellm-api-key", timeout=10) as client:
        client.key = key
        yield client


# --- status words ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "word, status",
    [
        *[(word, status) for status, words in NEWAPI_WORDS.items() for word in words],
        ("queued", "queued"),
        ("not_start", "queued"),
        ("SUBMITTED", "queued"),
        ("in_progress", "in_progress"),
        ("InProgress", "in_progress"),
        ("in-progress", "in_progress"),
        ("completed", "completed"),
        ("expired", "expired"),
        ("EXPIRED", "expired"),
        ("cancelled", "failed"),
        ("canceled", "failed"),
    ],
)
def test_every_synonym_reads_as_a_canonical_status(word, status):
    video = Video.from_dict({"id": "task_1", "status": word})
    assert video.status == status and video.status_known
    assert video.is_terminal == (status in ("completed", "failed", "expired"))
    assert video.provider_status == (None if word == status else word)


def test_a_cancelled_job_fails_with_a_reason():
    video = Video.from_dict({"id": "task_1", "status": "cancelled"})
    assert video.status == "failed" and video.error.code == "cancelled" and "cancelled" in video.error.message
    video = Video.from_dict({"id": "task_1", "status": "FAILURE", "fail_reason": "upstream timed out"})
    assert video.error.message == "upstream timed out"


def test_the_newapi_dialect_speaks_every_status_word_and_the_client_reads_them(newapi, sim):
    sim.control.patch_faults(job_seconds=100)  # 10 s queued: time to see the queued words
    done_words = {status: set() for status in ("queued", "in_progress", "completed", "failed", "expired")}
    ids = []
    for n in range(6):  # six creates in a row use all six vocabularies
        created = newapi.create(prompt=f"words {n}")
        assert created.id.startswith("task_") and created.status == "queued"  # from {"task_id": ...} only
        ids.append(created.id)
    for video_id in ids:
        seen = newapi.retrieve(video_id)
        assert seen.id == video_id and seen.status == "queued" and not seen.is_terminal
        done_words["queued"].add(seen.provider_status)
        sim.control.advance_video(video_id, 30)
        seen = newapi.retrieve(video_id)
        assert seen.status == "in_progress" and not seen.is_terminal and 0 <= seen.progress <= 100
        done_words["in_progress"].add(seen.provider_status)
        sim.control.advance_video(video_id, 100)
        seen = wait_done(newapi, video_id)  # the clip is encoded once the job is due
        assert seen.status == "completed" and seen.is_terminal and seen.progress == 100
        done_words["completed"].add(seen.provider_status)
    sim.control.expire_video(ids[0])
    expired = newapi.retrieve(ids[0])
    assert expired.status == "expired" and expired.is_terminal
    for n in range(2):  # two in a row: both failure words
        video_id = newapi.create(prompt=f"failing {MODERATE_WORD} {n}").id
        sim.control.advance_video(video_id, 100)
        failed = wait_done(newapi, video_id)
        assert failed.status == "failed" and failed.is_terminal
        assert failed.error and failed.error.code == "moderation_blocked"
        done_words["failed"].add(failed.provider_status or failed.status)
    for status, words in NEWAPI_WORDS.items():
        assert {w or status for w in done_words[status]} == words, status


def retrieve_with(word, *, key="sk-unknown-status-1"):
    def handler(request):
        return httpx.Response(200, json={"id": "task_1", "status": word, "progress": "40%"})

    with VideoClient("https://relay.example/v1", key, transport=httpx.MockTransport(handler)) as client:
        return client.retrieve("task_1")


def test_an_unknown_status_keeps_the_job_in_flight_and_is_logged_once_per_key(caplog):
    word = f"rendering_{uuid.uuid4().hex[:6]}"  # new to this process: the once-per-key memory is process-wide
    caplog.set_level(logging.WARNING, logger="providers.dialects")
    for _ in range(3):
        video = retrieve_with(word)
        assert video.status == "in_progress" and not video.is_terminal
        assert video.provider_status == word and not video.status_known and video.progress == 40
    logged = [r for r in caplog.records if word in r.getMessage()]
    assert len(logged) == 1
    assert "sk-unknown-status-1" not in caplog.text and "••••us-1" in caplog.text
    retrieve_with(word, key="sk-another-key-2")
    assert len([r for r in caplog.records if word in r.getMessage()]) == 2  # another key: logged for it too


def test_task_id_is_the_id_of_a_create_answer_and_of_a_wrapped_object():
    assert Video.from_dict({"task_id": "task_9"}).id == "task_9"
    wrapped = Video.from_dict({"code": "success", "data": {"task_id": "task_9", "status": "SUCCESS"}})
    assert (wrapped.id, wrapped.status) == ("task_9", "completed")
    with pytest.raises(ProviderError):
        Video.from_dict({"status": "queued"})


# --- auth styles -------------------------------------------------------------------------------------


def test_azure_takes_the_key_in_api_key_and_refuses_bearer(azure, sim):
    video = azure.create(prompt="a lighthouse", seconds="4")
    assert video.id.startswith("video_")
    assert wait_done(azure, video.id).status == "completed"
    with VideoClient(sim.url + "/openai/v1", azure.key, timeout=10) as bearer:
        with pytest.raises(InvalidKey) as caught:
            bearer.retrieve(video.id)
    assert caught.value.status == 401 and "Access denied" in caught.value.message
    assert azure.key not in str(caught.value)


def test_litellm_takes_the_key_in_its_header_or_as_bearer(litellm, sim):
    video = litellm.create(prompt="a meadow")
    assert wait_done(litellm, video.id).status == "completed"
    with VideoClient(sim.api_url, litellm.key, timeout=10) as bearer:
        assert bearer.retrieve(video.id).id == video.id  # an id that encodes provider and model, quoted as is
    with VideoClient(sim.api_url, "sk-litellm-wrong-0000", auth_header="x-litellm-api-key") as wrong:
        with pytest.raises(InvalidKey) as caught:
            wrong.retrieve(video.id)
    assert caught.value.status == 401 and "sk-litellm-wrong-0000" not in caught.value.message
    assert caught.value.param is None  # LiteLLM's "None" is no parameter


@pytest.mark.parametrize(
    "style, header, value",
    [
        ("", "authorization", "Bearer sk-style-1234"),
        ("Authorization", "authorization", "Bearer sk-style-1234"),
        ("api-key", "api-key", "sk-style-1234"),
        ("X-LiteLLM-API-Key", "x-litellm-api-key", "sk-style-1234"),
    ],
)
def test_each_auth_style_sends_the_key_in_its_header_only(style, header, value):
    seen = []

    def handler(request):
        seen.append(request.headers)
        return httpx.Response(200, json={"id": "video_1", "status": "queued"})

    with VideoClient(
        "https://p.example/v1", "sk-style-1234", auth_header=style, transport=httpx.MockTransport(handler)
    ) as client:
        client.retrieve("video_1")
        assert "sk-style-1234" not in repr(client)
    assert seen[0][header] == value
    carrying = [name for name, v in seen[0].items() if "sk-style-1234" in v]
    assert carrying == [header]


def test_a_header_name_must_be_a_header_name():
    with pytest.raises(ValueError):
        VideoClient("https://p.example/v1", "sk-style-1234", auth_header="api key:")


@pytest.mark.django_db
def test_a_keys_auth_header_reaches_its_client(sim):
    from providers.models import ApiKey

    key_value = dialect_key(sim, "azure")
    key = ApiKey(name="foundry", base_url=sim.url + "/openai/v1", auth_header="api-key")
    key.secret = key_value
    key.save()
    with key.client() as client:
        assert client.create(prompt="from the model's key").id.startswith("video_")
        assert client.label == f"foundry (key {key.pk})"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "entered, stored",
    [
        ("", ""),
        ("Authorization", ""),
        ("API-Key", "api-key"),
        ("x-litellm-api-key", "x-litellm-api-key"),
        ("api key:", None),
    ],
)
def test_staff_choose_the_key_header_in_the_key_form(entered, stored):
    from staff.forms import KeyForm

    form = KeyForm(
        data={
            "name": "relay",
            "provider": "new-api",
            "base_url": "https://relay.example/v1",
            "secret": "sk-form-12345678",
            "auth_header": entered,
            "rpm_limit": 0,
            "max_concurrent": 0,
        }
    )
    assert "auth_header" in form.fields and form.fields["auth_header"].help_text
    if stored is None:
        assert not form.is_valid() and "auth_header" in form.errors
    else:
        assert form.is_valid(), form.errors
        assert form.save().auth_header == stored


# --- the content redirect ----------------------------------------------------------------------------


def test_newapi_content_comes_by_redirect_without_the_key(newapi, sim, tmp_path):
    video = newapi.create(prompt="a harbour", seconds="4", size="1280x720")
    assert wait_done(newapi, video.id).status == "completed"
    path = tmp_path / "video.mp4"
    with path.open("wb") as f:
        result = newapi.download(video.id, f)  # the signed /_cdn/ path refuses (401) a request with a key
    source = sim.data_dir / "media" / video.id / "video.mp4"
    assert result.bytes == source.stat().st_size and path.read_bytes() == source.read_bytes()
    assert result.duration_seconds == pytest.approx(4.0, abs=0.3)
    assert result.content_type == "video/mp4"


class Relay(http.server.ThreadingHTTPServer):
    """A gateway on another origin: takes the key in `x-litellm-api-key`, asks sorasim with it as Bearer, and
    passes sorasim's answers (its redirect to sorasim's own origin included) back as they are."""

    def __init__(self, upstream):
        self.upstream, self.keys_seen = upstream, []
        super().__init__(("127.0.0.1", 0), RelayHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class RelayHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the stdlib's name)
        key = self.headers.get("x-litellm-api-key", "")
        self.server.keys_seen.append(key)
        answer = httpx.get(
            self.server.upstream + self.path.removeprefix("/v1"), headers={"Authorization": f"Bearer {key}"}, timeout=10
        )
        self.send_response(answer.status_code)
        for name in ("content-type", "location", "x-request-id"):
            if name in answer.headers:
                self.send_header(name, answer.headers[name])
        self.send_header("content-length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, *args):
        pass


def test_a_redirect_to_another_host_is_followed_without_the_keys_header(newapi, sim):
    video = newapi.create(prompt="a pier")
    assert wait_done(newapi, video.id).status == "completed"
    relay = Relay(sim.api_url)
    try:
        # a custom header, which httpx would keep on a cross-origin redirect: the CDN refuses it (401)
        with VideoClient(relay.url, newapi.key, auth_header="x-litellm-api-key", timeout=10) as client:
            buffer = io.BytesIO()
            result = client.download(video.id, buffer, variant="thumbnail")
    finally:
        relay.shutdown()
        relay.server_close()
    assert relay.keys_seen == [newapi.key]  # the relay got the key; the CDN on sim's origin did not
    assert result.bytes == len(buffer.getvalue()) > 0 and result.content_type == "image/webp"


def test_the_key_goes_only_to_the_api_of_its_base_url():
    base = "https://relay.example/v1"
    assert dialects.key_may_go_to("https://relay.example/v1/videos/x/content", base)
    assert not dialects.key_may_go_to("https://relay.example/_cdn/token", base)
    assert not dialects.key_may_go_to("https://cdn.example/v1/videos/x", base)
    assert not dialects.key_may_go_to("http://relay.example/v1/videos/x", base)
    assert not dialects.key_may_go_to("https://relay.example:8443/v1/videos/x", base)


def test_a_redirect_loop_ends():
    def handler(request):
        return httpx.Response(302, headers={"location": str(request.url.join("/again"))})

    with VideoClient("https://p.example/v1", "sk-loop-1234", transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(ProviderError, match="redirected more than"):
            client.download("video_1", io.BytesIO())


# --- error bodies ------------------------------------------------------------------------------------


def test_newapi_errors_become_typed_errors(newapi, sim):
    with pytest.raises(VideoNotFound) as caught:  # 400 {"code": "task_not_exist", ...}
        newapi.retrieve("task_0000000000000000000000000000000")
    assert caught.value.code == "task_not_exist"
    with pytest.raises(InvalidRequest) as caught:
        newapi.create(prompt="too long", seconds="7")
    assert caught.value.status == 400 and caught.value.message and "HTTP" not in caught.value.message
    with pytest.raises(ProviderError) as caught:  # no list endpoint
        list(newapi.list())
    assert caught.value.status == 404 and "Invalid URL" in caught.value.message
    poor = dialect_key(sim, "newapi", credit_usd=0)
    with VideoClient(sim.api_url, poor, timeout=10) as client, pytest.raises(OutOfCredit) as caught:
        client.create(prompt="no money")
    assert caught.value.status == 403 and caught.value.code == "quota_not_enough"
    with VideoClient(sim.api_url, "sk-newapi-wrong-1", timeout=10) as client, pytest.raises(InvalidKey):
        client.retrieve("task_1")


def test_litellm_errors_read_without_the_gateways_prefix(litellm):
    with pytest.raises(InvalidRequest) as caught:
        litellm.create(prompt="too long", seconds="7")
    error = caught.value
    assert error.status == 400 and error.code == "400"
    assert not error.message.startswith("litellm.") and "OpenAIException" not in error.message
    assert error.param in (None, "seconds")


def test_azure_content_filter_and_misalignment_are_moderated_with_a_reason(azure):
    with pytest.raises(Moderated) as caught:
        azure.create(prompt="a scene azure-content-filter here")
    error = caught.value
    assert error.code == "content_filter" and error.param == "prompt" and error.status == 400
    assert "violence (medium)" in error.message and "hate" not in error.message
    with pytest.raises(Moderated) as caught:
        azure.create(prompt="a scene azure-misalignment here")
    error = caught.value
    assert error.code == "sentinel_block" and error.param == "prompt"
    assert "does not allow" in error.message  # the detailed explanation
    assert "try again" in error.message.lower()  # the steer


def test_a_fresh_azure_deployment_is_not_ready_and_safe_to_send_again(sim):
    key = dialect_key(sim, "azure", deploying_seconds=600)
    with VideoClient(sim.url + "/openai/v1", key, auth_header="api-key", timeout=10) as client:
        with pytest.raises(DeploymentNotReady) as caught:
            client.create(prompt="a lighthouse", model="sora-2-pro", size="1280x720")
        assert caught.value.retryable and caught.value.status == 404
        assert "deployment 'sora-2-pro'" in caught.value.message
        sim.control.set_key(key, deploying_seconds=0)
        assert client.create(prompt="a lighthouse", model="sora-2-pro", size="1280x720").id.startswith("video_")
        with pytest.raises(VideoNotFound):  # a 404 on a read is still about the video
            client.retrieve("video_" + "0" * 48)


@pytest.mark.parametrize(
    "status, body, kind, words",
    [
        (
            404,
            {"error": {"code": "DeploymentNotFound", "message": "The API deployment for this resource does not exist"}},
            DeploymentNotReady,
            ["deployment for this resource does not exist"],
        ),
        (
            400,
            {
                "error": {
                    "message": "Invalid value",
                    "type": "invalid_request_error",
                    "param": "seconds",
                    "code": "invalid_value",
                }
            },
            InvalidRequest,
            ["Invalid value", "parameter: seconds"],
        ),
        (
            400,
            {
                "error": {
                    "message": "Blocked.",
                    "type": "invalid_request_error",
                    "param": "prompt",
                    "code": "sentinel_block",
                }
            },
            Moderated,
            ["Blocked"],
        ),
        (
            400,
            {
                "error": {
                    "code": "content_filter",
                    "message": "Filtered.",
                    "innererror": {
                        "code": "ResponsibleAIPolicyViolation",
                        "content_filter_result": {
                            "sexual": {"filtered": True, "severity": "high"},
                            "hate": {"filtered": False, "severity": "safe"},
                        },
                    },
                }
            },
            Moderated,
            ["Filtered", "sexual (high)"],
        ),
        (
            400,
            {
                "error": {
                    "code": "invalid_prompt",
                    "message": "Refused.",
                    "misalignment": {
                        "error_type": "policy_misalignment",
                        "review_target": "prompt",
                        "detailed_explanation": "It depicts a real person.",
                        "steer": "Use a fictional character.",
                    },
                }
            },
            Moderated,
            ["It depicts a real person", "Use a fictional character"],
        ),
        (
            500,
            {"code": "bad_response_status_code", "message": "upstream said no", "data": None},
            ProviderError,
            ["upstream said no"],
        ),
        (
            422,
            {"detail": [{"loc": ["body", "seconds"], "msg": "value is not allowed"}]},
            InvalidRequest,
            ["seconds: value is not allowed"],
        ),
        (400, {"error": "plain words"}, InvalidRequest, ["plain words"]),
    ],
)
def test_error_bodies_of_every_shape_become_typed_errors_with_a_reason(status, body, kind, words):
    def handler(request):
        return httpx.Response(status, json=body, headers={"x-request-id": "req_shape"})

    with VideoClient("https://p.example/v1", "sk-shape-1234", transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(kind) as caught:
            client.create(prompt="x")
    assert caught.value.request_id == "req_shape"
    for word in words:
        assert word in caught.value.message
