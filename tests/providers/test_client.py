"""The client against a real sorasim over HTTP: every call, every error class sorasim can produce."""

import hashlib
import io
import logging
import time

import pytest
from PIL import Image

from providers.client import (
    Download,
    IncompleteDownload,
    InvalidKey,
    InvalidRequest,
    ModelNotFound,
    OutcomeUnknown,
    OutOfCredit,
    ProviderUnavailable,
    ProviderUnreachable,
    RateLimited,
    Video,
    VideoClient,
    VideoNotFound,
)
from tests.fixtures.sorasim import API_KEY, DEFAULT_ARGS, MODERATE_WORD, probe_video, start_sorasim


@pytest.fixture
def client(sim):
    with VideoClient(sim.api_url, API_KEY, timeout=10) as client:
        yield client


def wait_done(client, video_id, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        video = client.retrieve(video_id)
        if video.is_terminal:
            return video
        assert time.monotonic() < deadline, f"{video_id} still {video.status}"
        time.sleep(min((video.poll_after_ms or 200) / 1000, 0.3))


def png(size):
    width, height = (int(v) for v in size.split("x"))
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def test_it_creates_polls_and_downloads_a_video(client, sim, tmp_path):
    video = client.create(prompt="a red fox in snow", seconds="4", size="1280x720")
    assert isinstance(video, Video)
    assert video.id.startswith("video_") and video.status in ("queued", "in_progress")
    assert video.seconds == "4" and video.size == "1280x720" and video.model == "sora-2"
    assert video.request_id.startswith("req_")
    assert video.poll_after_ms and video.poll_after_ms > 0
    assert not video.is_terminal

    done = wait_done(client, video.id)
    assert done.status == "completed" and done.progress == 100
    assert done.completed_at and done.expires_at > done.completed_at
    assert done.error is None and done.raw["id"] == video.id

    path = tmp_path / "video.mp4"
    with path.open("wb") as f:
        result = client.download(video.id, f)
    assert isinstance(result, Download)
    assert result.content_type == "video/mp4"
    assert result.duration_seconds == pytest.approx(4.0, abs=0.3)
    assert result.request_id.startswith("req_")
    source = sim.data_dir / "media" / video.id / "video.mp4"
    assert result.bytes == path.stat().st_size == source.stat().st_size
    assert path.read_bytes() == source.read_bytes()
    assert probe_video(path)["width"] == 1280

    for variant, content_type in (("thumbnail", "image/webp"), ("spritesheet", "image/jpeg")):
        buffer = io.BytesIO()
        asset = client.download(video.id, buffer, variant=variant)
        assert asset.content_type == content_type and asset.duration_seconds is None
        assert asset.bytes == len(buffer.getvalue()) > 0
        Image.open(io.BytesIO(buffer.getvalue())).verify()


def test_it_sends_a_reference_image(client):
    video = client.create(prompt="from this frame", input_reference=("first.png", png("720x1280"), "image/png"))
    assert wait_done(client, video.id).status == "completed"
    with pytest.raises(InvalidRequest) as caught:
        client.create(prompt="wrong size", input_reference=("first.png", io.BytesIO(png("64x64")), "image/png"))
    assert caught.value.param == "input_reference" and caught.value.status == 400
    assert caught.value.request_id.startswith("req_")


def test_it_lists_every_page(client):
    ids = [client.create(prompt=f"page test {n}").id for n in range(5)]
    listed = [video.id for video in client.list(limit=2)]
    assert listed[:5] == ids[::-1]
    assert len(listed) == len(set(listed))  # no page twice
    ascending = [video.id for video in client.list(limit=3, order="asc")]
    assert [i for i in ascending if i in ids] == ids


def test_it_remixes_by_endpoint_and_by_create(client):
    parent = client.create(prompt="a boat", seconds="8", size="1280x720")
    wait_done(client, parent.id)
    by_endpoint = client.remix(parent.id, "the boat at night")
    by_create = client.remix(parent.id, "the boat in fog", by="create")
    for remix in (by_endpoint, by_create):
        assert remix.remixed_from_video_id == parent.id
        assert remix.seconds == "8" and remix.size == "1280x720"  # inherited, not our defaults
        assert remix.id != parent.id
    with pytest.raises(ValueError):
        client.remix(parent.id, "x", by="carrier pigeon")


def test_it_deletes_a_video(client):
    video = client.create(prompt="short lived")
    with pytest.raises(InvalidRequest):  # still rendering
        client.delete(video.id)
    wait_done(client, video.id)
    assert client.delete(video.id) is True
    with pytest.raises(VideoNotFound) as caught:
        client.retrieve(video.id)
    assert caught.value.status == 404 and not caught.value.retryable
    with pytest.raises(VideoNotFound):
        client.delete(video.id)


def test_it_reports_a_moderated_job_as_a_failed_video(client):
    video = client.create(prompt=f"something {MODERATE_WORD}")
    done = wait_done(client, video.id)
    assert done.status == "failed" and done.is_terminal
    assert done.error.code == "moderation_blocked" and done.error.message


def test_it_raises_invalid_key(sim):
    with VideoClient(sim.api_url, "sk-wrong-key-0000") as client:
        with pytest.raises(InvalidKey) as caught:
            client.retrieve("video_x")
    assert caught.value.status == 401 and caught.value.request_id.startswith("req_")
    assert "sk-wrong-key-0000" not in str(caught.value)
    sim.control.set_key(API_KEY, valid=False)  # revoked while in use
    with VideoClient(sim.api_url, API_KEY) as client, pytest.raises(InvalidKey):
        list(client.list())


def test_it_raises_model_not_found(client):
    with pytest.raises(ModelNotFound) as caught:
        client.create(prompt="x", model="sora-9")
    assert caught.value.status == 404 and not caught.value.retryable


def test_it_raises_invalid_request_with_the_param(client):
    with pytest.raises(InvalidRequest) as caught:
        client.create(prompt="x", size="1792x1024")  # a pro size on sora-2
    assert caught.value.param == "size" and caught.value.message
    with pytest.raises(InvalidRequest) as caught:
        client.create(prompt="x", seconds="5")
    assert caught.value.param == "seconds"


def test_it_raises_video_not_found(client):
    with pytest.raises(VideoNotFound):
        client.retrieve("video_" + "0" * 48)
    for by in ("endpoint", "create"):
        with pytest.raises(VideoNotFound):
            client.remix("video_" + "0" * 48, "x", by=by)
    with pytest.raises(VideoNotFound):
        client.download("video_" + "0" * 48, io.BytesIO())


def test_it_raises_rate_limited_with_the_wait(sim, client):
    sim.control.set_key(API_KEY, rpm=2)
    client.retrieve(client.create(prompt="one").id)
    with pytest.raises(RateLimited) as caught:
        client.retrieve("video_" + "0" * 48)
    error = caught.value
    assert error.retryable and error.status == 429 and error.code == "rate_limit_exceeded"
    assert 0 < error.retry_after <= 60
    assert error.request_id.startswith("req_")


def test_it_raises_out_of_credit_not_rate_limited(sim, client):
    sim.control.set_key(API_KEY, credit_usd=0.5)  # one 4 s sora-2 video costs 0.40
    client.create(prompt="paid")
    with pytest.raises(OutOfCredit) as caught:
        client.create(prompt="not paid")
    assert not caught.value.retryable and caught.value.code == "insufficient_quota"
    assert sim.control.counters(API_KEY)["creates_accepted"] == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_it_raises_provider_unavailable_on_5xx(sim, client, status):
    sim.control.patch_faults(error_rate=1.0, error_statuses=[status])
    with pytest.raises(ProviderUnavailable) as caught:
        client.retrieve("video_" + "0" * 48)
    assert caught.value.status == status and caught.value.retryable
    with pytest.raises(ProviderUnavailable):  # the server answered "error": no job was made
        client.create(prompt="x")
    assert sim.control.counters(API_KEY)["creates_accepted"] == 0


def test_it_raises_provider_unreachable_when_nothing_listens():
    with VideoClient("http://127.0.0.1:9/v1", API_KEY, timeout=2) as client:
        with pytest.raises(ProviderUnreachable, match="was not sent"):  # a kind of ProviderUnavailable
            client.create(prompt="x")
        with pytest.raises(ProviderUnreachable):
            client.retrieve("video_1")


def test_it_raises_outcome_unknown_when_the_create_response_is_lost(sim, client):
    parent = client.create(prompt="parent")
    wait_done(client, parent.id)
    sim.control.patch_faults(drop_create_response_rate=1.0)
    with pytest.raises(OutcomeUnknown) as caught:
        client.create(prompt="lost answer")
    assert not caught.value.retryable
    with pytest.raises(OutcomeUnknown):
        client.remix(parent.id, "lost remix")
    with pytest.raises(OutcomeUnknown):
        client.remix(parent.id, "lost remix by create", by="create")
    sim.control.reset_faults()
    # the jobs exist and are billed: the reconciler finds them with list(), never with a second POST
    counters = sim.control.counters(API_KEY)
    assert counters["creates_accepted"] == 4 and counters["creates_attempted"] == 4
    prompts = {video.prompt for video in client.list()}
    assert {"lost answer", "lost remix", "lost remix by create"} <= prompts


@pytest.mark.timing("1.5 s of latency against a 0.5 s timeout; load only makes the answer later")
def test_it_raises_outcome_unknown_on_a_timeout_after_sending(sim):
    sim.control.patch_faults(latency_ms=1500)
    with VideoClient(sim.api_url, API_KEY, timeout=0.5) as client:
        with pytest.raises(OutcomeUnknown):
            client.create(prompt="slow provider")
        with pytest.raises(ProviderUnavailable):  # the same timeout on a GET: safe to repeat
            client.retrieve("video_" + "0" * 48)
    counters = sim.control.counters(API_KEY)
    assert counters["faults_fired"]["latency"] == 2
    assert counters["creates_attempted"] == 1  # sent once, never again by the client


def test_it_detects_a_truncated_download(sim, client, tmp_path):
    video = client.create(prompt="cut short")
    wait_done(client, video.id)
    sim.control.patch_faults(truncate_download_rate=1.0)
    for variant in ("video", "thumbnail"):
        with pytest.raises(IncompleteDownload) as caught:
            client.download(video.id, io.BytesIO(), variant=variant)
        assert caught.value.retryable and caught.value.request_id.startswith("req_")
    sim.control.reset_faults()
    path = tmp_path / "again.mp4"
    with path.open("wb") as f:
        result = client.download(video.id, f)
    assert result.bytes == path.stat().st_size and result.duration_seconds == pytest.approx(4.0, abs=0.3)


def test_it_reads_the_delivered_duration_of_a_short_clip(sim, client):
    sim.control.patch_faults(short_clip_rate=1.0)
    video = client.create(prompt="short", seconds="8")
    wait_done(client, video.id)
    result = client.download(video.id, io.BytesIO())
    assert result.duration_seconds == pytest.approx(6.0, abs=0.3)


def test_it_keeps_the_key_out_of_logs(sim, caplog):
    caplog.set_level(logging.DEBUG)
    with VideoClient(sim.api_url, API_KEY) as client:
        video = client.create(prompt="logged")
        client.retrieve(video.id)
        list(client.list())
    with VideoClient(sim.api_url, "sk-wrong-DISTINCTIVE-1") as client, pytest.raises(InvalidKey):
        client.retrieve(video.id)
    assert "request_id=req_" in caplog.text
    assert API_KEY not in caplog.text and "DISTINCTIVE" not in caplog.text


def test_it_downloads_a_large_video_complete_and_byte_exact(tmp_path):
    with start_sorasim(*DEFAULT_ARGS, "--pad-mb", "40") as sim:
        with VideoClient(sim.api_url, API_KEY) as client:
            video = client.create(prompt="big")
            wait_done(client, video.id)
            path = tmp_path / "big.mp4"
            with path.open("wb") as f:
                result = client.download(video.id, f, chunk_size=64 * 1024)
        source = sim.data_dir / "media" / video.id / "video.mp4"
        assert result.bytes == source.stat().st_size > 40 * 1000 * 1000
        assert result.duration_seconds == pytest.approx(4.0, abs=0.3)
        assert _sha256(path) == _sha256(source)


def _sha256(path):
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
