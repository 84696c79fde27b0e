"""POST /v1/videos through the official SDK (multipart) and as JSON: shapes, defaults and every validation error."""

import base64
import io

import httpx
import openai
import pytest
from PIL import Image

from tests.fixtures.sorasim import API_KEY

VIDEO_KEYS = {
    "id",
    "object",
    "model",
    "status",
    "progress",
    "created_at",
    "completed_at",
    "expires_at",
    "prompt",
    "size",
    "seconds",
    "remixed_from_video_id",
    "error",
}


def image_bytes(fmt, size=(720, 1280), colour=(10, 200, 30)):
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, fmt)
    return buf.getvalue()


def raw_post(sim, key, headers=None, **kwargs):
    headers = {"Authorization": f"Bearer {key}", **(headers or {})}
    return httpx.post(sim.api_url + "/videos", headers=headers, timeout=10, **kwargs)


def test_it_creates_with_the_sdk_and_returns_every_video_key(sim, client):
    response = client.videos.with_raw_response.create(prompt="a heron lands on a pier", seconds="8", size="1280x720")
    video = response.parse()
    body = response.http_response.json()
    assert set(body) == VIDEO_KEYS
    assert video.id.startswith("video_") and len(video.id) == 6 + 48
    assert int(video.id[6:], 16) >= 0  # hex
    assert (video.object, video.status, video.progress) == ("video", "queued", 0)
    assert (video.model, video.seconds, video.size) == ("sora-2", "8", "1280x720")
    assert video.prompt == "a heron lands on a pier"
    assert body["completed_at"] is None and body["expires_at"] is None and body["error"] is None
    assert body["remixed_from_video_id"] is None
    assert response.headers["x-request-id"].startswith("req_")
    assert 1000 <= int(response.headers["openai-poll-after-ms"]) <= 20000


def test_it_applies_the_defaults(client):
    video = client.videos.create(prompt="defaults")
    assert (video.model, video.seconds, video.size) == ("sora-2", "4", "720x1280")


def test_it_accepts_a_json_body(sim, key):
    response = raw_post(
        sim, key, json={"prompt": "json body", "model": "sora-2-pro", "seconds": "12", "size": "1792x1024"}
    )
    assert response.status_code == 200
    assert response.json()["model"] == "sora-2-pro" and response.json()["size"] == "1792x1024"


def test_it_accepts_dated_model_aliases_and_echoes_them(client):
    assert client.videos.create(prompt="alias", model="sora-2-2025-10-06").model == "sora-2-2025-10-06"


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        ({}, "prompt", "missing_required_parameter"),
        ({"prompt": ""}, "prompt", "string_below_min_length"),
        ({"prompt": "x" * 32001}, "prompt", "string_above_max_length"),
        ({"prompt": "ok", "seconds": "5"}, "seconds", "invalid_value"),
        ({"prompt": "ok", "size": "640x480"}, "size", "invalid_value"),
        ({"prompt": "ok", "model": "sora-2", "size": "1024x1792"}, "size", "invalid_value"),
        ({"prompt": "ok", "colour": "blue"}, "colour", "unknown_parameter"),
    ],
)
@pytest.mark.parametrize("encoding", ["multipart", "json"])
def test_it_rejects_bad_fields_with_their_param(sim, key, fields, param, code, encoding):
    if encoding == "multipart" and fields:
        response = raw_post(sim, key, files={name: (None, value) for name, value in fields.items()})
    else:
        response = raw_post(sim, key, json=fields)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
    assert error["message"]
    assert sim.control.counters(key)["creates_accepted"] == 0


def test_it_raises_bad_request_with_param_in_the_sdk(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(prompt="ok", size="1024x1792")  # sora-2 renders only the 720p sizes
    assert caught.value.status_code == 400
    assert caught.value.param == "size"
    assert caught.value.code == "invalid_value"


def test_it_accepts_the_large_sizes_on_sora_2_pro(client):
    assert client.videos.create(prompt="tall", model="sora-2-pro", size="1024x1792").size == "1024x1792"


def test_it_rejects_an_integer_seconds_in_json(sim, key):
    response = raw_post(sim, key, json={"prompt": "ok", "seconds": 4})
    error = response.json()["error"]
    assert response.status_code == 400
    assert error["param"] == "seconds" and error["code"] == "invalid_type"
    assert "Invalid type for 'seconds'" in error["message"]


def test_it_answers_404_model_not_found_for_an_unknown_model(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.videos.create(prompt="ok", model="sora-3")
    assert caught.value.code == "model_not_found" and caught.value.param == "model"


def test_it_rejects_bad_json(sim, key):
    response = raw_post(sim, key, content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]["message"]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_it_accepts_a_reference_image_checked_by_content(client, sim, fmt):
    # the declared name and type lie; the bytes decide
    video = client.videos.create(prompt="ref", input_reference=("photo.gif", image_bytes(fmt), "text/plain"))
    assert video.status == "queued"
    extension = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}[fmt]
    assert sim.control.video(video.id)["reference"] == f"reference.{extension}"
    assert sim.control.video_reference(video.id) == image_bytes(fmt)  # what it received, byte for byte


def test_a_video_without_a_reference_has_none_to_show(client, sim):
    from sorasim.control import SimControlError

    video = client.videos.create(prompt="no ref")
    with pytest.raises(SimControlError) as caught:
        sim.control.video_reference(video.id)
    assert caught.value.status == 404


def test_it_rejects_a_reference_that_is_not_an_image(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(prompt="ref", input_reference=("photo.png", b"GIF89a not really", "image/png"))
    assert caught.value.param == "input_reference" and caught.value.code == "invalid_image_format"


def test_it_rejects_an_unsupported_image_format(client):
    buf = io.BytesIO()
    Image.new("RGB", (720, 1280)).save(buf, "GIF")
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(prompt="ref", input_reference=("photo.gif", buf.getvalue(), "image/gif"))
    assert caught.value.code == "invalid_image_format"


def test_it_rejects_a_reference_of_the_wrong_pixel_size(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(
            prompt="ref", size="720x1280", input_reference=("r.png", image_bytes("PNG", (1280, 720)), "image/png")
        )
    assert caught.value.param == "input_reference" and caught.value.code == "invalid_image_size"
    assert "1280x720" in caught.value.message and "720x1280" in caught.value.message


def test_it_accepts_an_image_url_in_bracket_form_and_in_json(sim, key):
    data_url = "data:image/png;base64," + base64.b64encode(image_bytes("PNG", (1280, 720))).decode()
    multipart = raw_post(
        sim, key, data={"prompt": "bracket", "size": "1280x720", "input_reference[image_url]": data_url}
    )
    assert multipart.status_code == 200, multipart.text
    as_json = raw_post(
        sim, key, json={"prompt": "json", "size": "1280x720", "input_reference": {"image_url": data_url}}
    )
    assert as_json.status_code == 200, as_json.text
    assert sim.control.video(as_json.json()["id"])["reference"] == "reference.png"


def test_it_checks_an_image_url_like_an_upload(sim, key):
    data_url = "data:image/png;base64," + base64.b64encode(image_bytes("PNG", (100, 100))).decode()
    response = raw_post(sim, key, json={"prompt": "json", "input_reference": {"image_url": data_url}})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_image_size"


def test_it_rejects_a_file_id_it_cannot_resolve(sim, key):
    response = raw_post(sim, key, json={"prompt": "json", "input_reference": {"file_id": "file-123"}})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "input_reference"


def test_it_answers_401_without_a_key_and_with_a_wrong_key(sim):
    missing = httpx.post(sim.api_url + "/videos", json={"prompt": "x"})
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError) as caught:
        sim.client(api_key="sk-nope-000000").videos.create(prompt="x")
    assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"
    assert "sk-nope-000000" not in caught.value.message  # the key is masked


def test_it_refuses_every_call_of_a_key_marked_invalid(sim, key, client):
    video = client.videos.create(prompt="before")
    sim.control.set_key(key, valid=False)
    with pytest.raises(openai.AuthenticationError):
        client.videos.retrieve(video.id)
    with pytest.raises(openai.AuthenticationError):
        client.videos.list()
    assert sim.control.counters(key)["creates_accepted"] == 1
    assert sim.control.counters(key)["requests"]["GET /v1/videos/{video_id} 401"] == 1


def test_it_does_not_bill_a_rejected_create(sim, key, client):
    with pytest.raises(openai.BadRequestError):
        client.videos.create(prompt="", seconds="4")
    counters = sim.control.counters(key)
    assert counters["creates_attempted"] == 1
    assert counters["creates_accepted"] == 0 and counters["charged_usd"] == 0
    assert sim.control.videos(key) == []


def test_the_default_key_works(sim):
    assert sim.client(api_key=API_KEY).videos.create(prompt="default key").status == "queued"
