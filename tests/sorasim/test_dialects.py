"""Provider dialects over real HTTP: newapi, litellm and azure keys (ids, create answer, status words, list,
webhooks, auth headers, content by signed redirect, error bodies) and what every dialect shares (expired,
16/20 s at 1080p, JSON image references)."""

import base64
import io
import re
import uuid

import httpx
import pytest
from PIL import Image

from sorasim import dialects
from sorasim.config import parse_config
from tests.fixtures.sorasim import API_KEY, DEFAULT_ARGS, MODERATE_WORD, probe_video, start_sorasim
from tests.fixtures.waits import wait_for

DIALECTS = ("openai", "newapi", "litellm", "azure")
HEADERS = {
    "openai": lambda key: {"Authorization": f"Bearer {key}"},
    "newapi": lambda key: {"Authorization": f"Bearer {key}"},
    "litellm": lambda key: {"x-litellm-api-key": key},
    "azure": lambda key: {"api-key": key},
}


class Gateway:
    """One key of one dialect, with an HTTP client that authenticates the way that dialect wants."""

    def __init__(self, sim, dialect, **fields):
        self.sim, self.dialect = sim, dialect
        self.key = f"sk-{dialect}-{uuid.uuid4().hex[:12]}"
        sim.control.set_key(self.key, dialect=dialect, **fields)
        self.base = sim.url + ("/openai/v1" if dialect == "azure" else "/v1")
        self.http = httpx.Client(base_url=self.base, headers=HEADERS[dialect](self.key), timeout=30)

    def create(self, **fields):
        return self.http.post("/videos", json={"prompt": "a lighthouse at dusk", **fields})

    def create_id(self, **fields):
        response = self.create(**fields)
        assert response.status_code == 200, response.text
        body = response.json()
        return body["task_id"] if self.dialect == "newapi" else body["id"]

    def status(self, video_id):
        response = self.http.get(f"/videos/{video_id}")
        assert response.status_code == 200, response.text
        return response.json()["status"]

    def wait_status(self, video_id, words):
        return wait_for(lambda: (s := self.status(video_id)) in words and s, 60, f"{video_id} to be one of {words}")


@pytest.fixture
def gateway(sim):
    made = []

    def make(dialect, **fields):
        made.append(Gateway(sim, dialect, **fields))
        return made[-1]

    yield make
    for g in made:
        g.http.close()


def data_url(size=(720, 1280)):
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def error_of(dialect, response):
    """(code, message) of an error body in the dialect's shape."""
    body = response.json()
    if dialect == "newapi" and "error" not in body:
        assert set(body) == {"code", "message", "data"} and body["data"] is None
        return body["code"], body["message"]
    return body["error"]["code"], body["error"]["message"]


# ids and create answers
def test_newapi_answers_a_create_with_the_task_id_only(gateway):
    g = gateway("newapi")
    response = g.create()
    assert response.status_code == 200
    assert list(response.json()) == ["task_id"]
    task_id = response.json()["task_id"]
    assert re.fullmatch(r"task_[0-9a-f]{32}", task_id)
    assert "openai-poll-after-ms" not in response.headers
    video = g.http.get(f"/videos/{task_id}").json()
    assert video["id"] == task_id and video["object"] == "video"


def test_litellm_ids_encode_the_provider_and_the_model(gateway):
    g = gateway("litellm")
    response = g.create(model="sora-2-pro")
    assert response.status_code == 200
    video = response.json()
    assert video["object"] == "video" and video["status"] == "queued"
    decoded = base64.b64decode(video["id"].removeprefix("video_")).decode()
    assert re.fullmatch(r"litellm:custom_llm_provider:openai;model_id:sora-2-pro;video_id:video_[0-9a-f]{48}", decoded)
    assert g.http.get(f"/videos/{video['id']}").json()["id"] == video["id"]


def test_azure_serves_the_openai_shape_under_openai_v1(gateway):
    g = gateway("azure")
    response = g.create()
    assert response.status_code == 200 and "openai-poll-after-ms" in response.headers
    video = response.json()
    assert re.fullmatch(r"video_[0-9a-f]{48}", video["id"]) and video["status"] == "queued"
    assert g.http.get("/videos").json()["data"][0]["id"] == video["id"]
    on_v1 = httpx.get(g.sim.api_url + "/videos", headers=HEADERS["azure"](g.key))
    assert on_v1.status_code == 404 and on_v1.json() == {"error": {"code": "404", "message": "Resource not found"}}


# status words
def test_newapi_jobs_keep_one_vocabulary_and_together_use_every_word(sim, gateway):
    sim.control.patch_faults(job_seconds=600)  # queued for a minute of real time; advanced to each later stage
    g = gateway("newapi")
    finishing = [g.create_id(prompt=f"clip {i}") for i in range(6)]
    failing = [g.create_id(prompt=f"{MODERATE_WORD} {i}") for i in range(6)]
    seen = {status: set() for status in ("queued", "in_progress", "completed", "failed", "expired")}

    def word(task_id, status):
        return dialects.NEWAPI_WORDS[status][int(task_id[-2:], 16) % 6 % len(dialects.NEWAPI_WORDS[status])]

    for task_id in finishing + failing:
        assert g.status(task_id) == word(task_id, "queued")
        seen["queued"].add(word(task_id, "queued"))
        sim.control.advance_video(task_id, 100)
    for task_id in finishing:
        assert g.status(task_id) == word(task_id, "in_progress")
        seen["in_progress"].add(word(task_id, "in_progress"))
        sim.control.advance_video(task_id, 600)
    for task_id in finishing:
        seen["completed"].add(g.wait_status(task_id, {word(task_id, "completed")}))
        sim.control.expire_video(task_id)
        seen["expired"].add(g.status(task_id))
    for task_id in failing:
        seen["failed"].add(g.wait_status(task_id, {word(task_id, "failed")}))
    assert seen == {**{k: set(v) for k, v in dialects.NEWAPI_WORDS.items()}, "expired": {"expired"}}


@pytest.mark.parametrize("dialect", ["openai", "litellm", "azure", "newapi"])
def test_a_gateway_says_expired_once_expire_seconds_have_passed(sim, gateway, dialect):
    sim.control.patch_faults(expire_seconds=600)
    g = gateway(dialect)
    video_id = g.create_id()
    wait_for(lambda: sim.control.video(video_id)["status"] == "completed", 60, "completion")
    assert g.status(video_id) != "expired"
    sim.control.advance_video(video_id, 600)
    assert g.status(video_id) == "expired"
    content = g.http.get(f"/videos/{video_id}/content")
    code, message = error_of(dialect, content)
    assert content.status_code == 404 and code == ("404" if dialect == "litellm" else "video_expired")
    assert "expired" in message


# no list, no webhooks
def test_newapi_has_no_list_and_no_delete(gateway):
    g = gateway("newapi")
    task_id = g.create_id()
    listing = g.http.get("/videos")
    assert listing.status_code == 404
    assert listing.json() == {
        "error": {"message": "Invalid URL (GET /v1/videos)", "type": "invalid_request_error", "param": "", "code": ""}
    }
    deleting = g.http.delete(f"/videos/{task_id}")
    assert deleting.status_code == 404 and deleting.json()["error"]["message"].startswith("Invalid URL (DELETE")
    assert gateway("litellm").http.get("/videos").json()["object"] == "list"


def test_gateway_keys_never_get_webhooks(sim, gateway, receiver):
    ids = {d: gateway(d, webhook_urls=[receiver.url]).create_id() for d in ("newapi", "litellm", "azure")}
    for video_id in ids.values():
        wait_for(lambda v=video_id: sim.control.video(v)["status"] == "completed", 60, "completion")
        assert sim.control.video(video_id)["webhooks"] == []
    control = gateway("openai", webhook_urls=[receiver.url]).create_id()
    deliveries = receiver.wait(1)
    assert [httpx.Response(200, content=body).json()["data"]["id"] for _, body, _ in deliveries] == [control]


# auth
def test_newapi_reads_a_bearer_key_only(gateway):
    g = gateway("newapi")
    assert g.create().status_code == 200
    wrong = httpx.post(g.base + "/videos", json={"prompt": "x"}, headers={"api-key": g.key})
    assert wrong.status_code == 401
    error = wrong.json()["error"]
    assert error["type"] == "new_api_error" and error["code"] == "" and error["message"].startswith("无效的令牌")


def test_litellm_reads_a_bearer_key_or_its_own_header(gateway):
    g = gateway("litellm")
    for headers in ({"Authorization": f"Bearer {g.key}"}, {"x-litellm-api-key": g.key}):
        assert httpx.get(g.base + "/videos", headers=headers).status_code == 200
    assert httpx.get(g.base + "/videos", headers={"x-litellm-api-key": f"Bearer {g.key}"}).status_code == 200
    wrong = httpx.get(g.base + "/videos", headers={"api-key": g.key})
    assert wrong.status_code == 401
    assert wrong.json() == {
        "error": {
            "message": "Authentication Error, No api key passed in.",
            "type": "auth_error",
            "param": "None",
            "code": "401",
        }
    }


def test_azure_reads_the_api_key_header_and_refuses_bearer(gateway):
    g = gateway("azure")
    assert g.create().status_code == 200
    wrong = httpx.post(g.base + "/videos", json={"prompt": "x"}, headers={"Authorization": f"Bearer {g.key}"})
    assert wrong.status_code == 401
    assert wrong.json() == {"error": {"code": "401", "message": dialects.AZURE_AUTH_MESSAGE}}


def test_the_dialect_option_sets_the_default_of_keys_that_set_none_and_dialects_survive_a_restart():
    assert parse_config(["--dialect", "litellm"], environ={}).dialect == "litellm"
    assert parse_config([], environ={"SORASIM_DIALECT": "azure"}).dialect == "azure"
    with pytest.raises(SystemExit):
        parse_config(["--dialect", "bedrock"], environ={})
    with start_sorasim(*DEFAULT_ARGS, SORASIM_DIALECT="newapi") as sim:
        created = httpx.post(sim.api_url + "/videos", json={"prompt": "x"}, headers=HEADERS["newapi"](API_KEY))
        assert list(created.json()) == ["task_id"]
        assert "dialect" not in sim.control.key(API_KEY)
        assert sim.control.set_key(API_KEY, dialect="openai")["dialect"] == "openai"
        created = httpx.post(sim.api_url + "/videos", json={"prompt": "x"}, headers=HEADERS["openai"](API_KEY))
        assert created.json()["id"].startswith("video_")
        with pytest.raises(Exception, match="dialect must be one of"):
            sim.control.set_key(API_KEY, dialect="bedrock")
        g = Gateway(sim, "newapi")
        task_id = g.create_id()
        sim.restart()
        assert sim.control.key(g.key)["dialect"] == "newapi"
        assert g.http.get(f"/videos/{task_id}").json()["id"] == task_id
        g.http.close()


# content by signed redirect
def test_newapi_content_redirects_to_a_signed_path_that_refuses_credentials(sim, gateway):
    g = gateway("newapi")
    task_id = g.create_id()
    wait_for(lambda: sim.control.video(task_id)["status"] == "completed", 60, "completion")
    redirect = g.http.get(f"/videos/{task_id}/content")
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert location.startswith(sim.url + "/_cdn/")
    video = httpx.get(location)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"
    for headers in ({"Authorization": f"Bearer {g.key}"}, {"api-key": g.key}, {"x-litellm-api-key": g.key}):
        refused = httpx.get(location, headers=headers)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unexpected_credentials"
    thumbnail = httpx.get(g.http.get(f"/videos/{task_id}/content?variant=thumbnail").headers["location"])
    assert thumbnail.headers["content-type"] == "image/webp"
    tampered = httpx.get(location[:-3] + ("aaa" if not location.endswith("aaa") else "bbb"))
    assert tampered.status_code == 403


# error bodies
def test_newapi_error_bodies(sim, gateway):
    g = gateway("newapi")
    unknown = g.http.get("/videos/task_00000000000000000000000000000000")
    assert unknown.status_code == 400
    assert unknown.json() == {"code": "task_not_exist", "message": "task_not_exist", "data": None}
    bad = g.create(seconds="5")
    assert bad.status_code == 400 and error_of("newapi", bad)[0] == "invalid_value"
    broke = gateway("newapi", credit_usd=0)
    poor = broke.create()
    assert poor.status_code == 403
    assert poor.json() == {"code": "quota_not_enough", "message": "user quota is not enough", "data": None}
    limited = gateway("newapi", rpm=1)
    assert limited.create().status_code == 200
    second = limited.create()
    assert second.status_code == 429 and "retry-after" in second.headers
    assert second.json()["error"]["type"] == "new_api_error"
    assert second.json()["error"]["code"] == "rate_limit_exceeded"


def test_litellm_error_bodies(gateway):
    g = gateway("litellm")
    bad = g.create(seconds="5")
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", "seconds", "400")
    assert error["message"].startswith("litellm.BadRequestError: OpenAIException - Invalid value")
    missing = g.http.get("/videos/video_nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "404"
    assert missing.json()["error"]["message"].startswith("litellm.NotFoundError: ")


def test_azure_error_bodies(gateway):
    g = gateway("azure")
    filtered = g.create(prompt="a scene, azure-content-filter")
    assert filtered.status_code == 400
    error = filtered.json()["error"]
    assert (error["code"], error["param"], error["type"]) == ("content_filter", "prompt", "invalid_request_error")
    assert error["innererror"]["code"] == "ResponsibleAIPolicyViolation"
    assert error["innererror"]["content_filter_result"]["violence"] == {"filtered": True, "severity": "medium"}
    misaligned = g.create(prompt="AZURE-MISALIGNMENT please")
    assert misaligned.status_code == 400
    error = misaligned.json()["error"]
    assert error["code"] == "sentinel_block"
    assert set(error["misalignment"]) == {"error_type", "review_target", "detailed_explanation", "steer"}
    bad = g.create(seconds="5")
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "seconds"
    limited = gateway("azure", rpm=1)
    assert limited.create().status_code == 200
    second = limited.create()
    assert second.status_code == 429 and set(second.json()["error"]) == {"code", "message"}
    assert second.json()["error"]["code"] == "429"
    assert f"retry after {second.headers['retry-after']} seconds" in second.json()["error"]["message"]


def test_a_fresh_azure_deployment_answers_404_until_it_exists_and_charges_nothing(sim, gateway):
    g = gateway("azure", deploying_seconds=600, credit_usd=5)
    assert sim.control.key(g.key)["deploying_seconds"] > 590
    refused = g.create(model="sora-2-pro")
    assert refused.status_code == 404
    assert refused.json() == {"error": {
        "message": dialects.azure_no_deployment("sora-2-pro"), "type": "video_generation_user_error", "param": None,
        "code": None}}
    assert sim.control.key(g.key)["credit_usd"] == 5 and sim.control.counters(g.key)["creates_accepted"] == 0
    sim.control.set_key(g.key, deploying_seconds=0)  # the deployment is there
    assert sim.control.key(g.key)["deploying_seconds"] == 0
    assert g.create().status_code == 200
    assert sim.control.counters(g.key)["creates_accepted"] == 1
    with pytest.raises(Exception, match="deploying_seconds"):
        sim.control.set_key(g.key, deploying_seconds=-1)


# every dialect
@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_dialect_takes_16_and_20_seconds_at_1080p_on_sora_2_pro(sim, gateway, dialect):
    sim.control.patch_faults(job_seconds=600)  # accepted and billed; never rendered during the test
    g = gateway(dialect)
    assert g.create(model="sora-2-pro", size="1920x1080", seconds="20").status_code == 200
    assert g.create(model="sora-2-pro", size="1080x1920", seconds="16").status_code == 200
    assert sim.control.counters(g.key)["charged_usd"] == pytest.approx(0.70 * 36)
    wrong = g.create(model="sora-2", size="1920x1080")
    assert wrong.status_code == 400 and error_of(dialect, wrong)[0] in ("invalid_value", "400")


def test_a_1080p_clip_renders_at_its_size_and_length(sim, gateway):
    g = gateway("openai")
    video_id = g.create_id(model="sora-2-pro", size="1080x1920", seconds="16")
    wait_for(lambda: sim.control.video(video_id)["status"] == "completed", 60, "completion")
    path = sim.data_dir / "media" / video_id / "video.mp4"
    probe = probe_video(path)
    assert (probe["width"], probe["height"]) == (1080, 1920)
    assert probe["duration"] == pytest.approx(16, abs=0.2)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_dialect_takes_a_data_url_and_refuses_plain_urls_and_file_ids(sim, gateway, dialect):
    g = gateway(dialect)
    video_id = g.create_id(input_reference={"image_url": data_url()})
    assert sim.control.video(video_id)["reference"] == "reference.png"
    plain = g.create(input_reference={"image_url": "https://example.com/first-frame.png"})
    assert plain.status_code == 400
    code, message = error_of(dialect, plain)
    assert "Could not fetch the image at https://example.com/first-frame.png" in message
    assert code == ("400" if dialect == "litellm" else "invalid_image_url")
    file_id = g.create(input_reference={"file_id": "file-abc123"})
    assert file_id.status_code == 400
    assert "No such File object: file-abc123" in error_of(dialect, file_id)[1]
