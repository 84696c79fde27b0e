"""A job's life: queued, in_progress with rising progress, completed or failed; poll hints, expiry, request ids."""

import time

import httpx
import openai
import pytest

from tests.fixtures.sorasim import MODERATE_WORD
from tests.sorasim.conftest import wait_for


def test_it_moves_from_queued_through_rising_progress_to_completed(sim, key, client):
    sim.control.patch_faults(job_seconds=2)
    video = client.videos.create(prompt="a slow sunrise")
    seen = [(video.status, video.progress)]
    hints = []
    while seen[-1][0] != "completed":
        response = client.videos.with_raw_response.retrieve(video.id)
        current = response.parse()
        seen.append((current.status, current.progress))
        if current.status != "completed":
            hints.append(int(response.headers["openai-poll-after-ms"]))
        else:
            assert "openai-poll-after-ms" not in response.headers
        time.sleep(0.1)
    statuses = [s for s, _ in seen]
    assert statuses[0] == "queued"
    assert "in_progress" in statuses
    assert statuses.index("in_progress") > statuses.index("queued")
    progress = [p for s, p in seen if s == "in_progress"]
    assert progress == sorted(progress) and progress[-1] > progress[0]
    assert all(1000 <= h <= 20000 for h in hints)
    assert hints[0] > hints[-1] or hints[-1] == 1000  # the hint follows the remaining time
    done = client.videos.retrieve(video.id)
    assert done.progress == 100 and done.error is None
    assert done.completed_at >= done.created_at
    assert done.expires_at == done.completed_at + 3600


def test_it_hints_a_longer_poll_for_a_long_job(sim, client):
    sim.control.patch_faults(job_seconds=600)
    video = client.videos.create(prompt="a long one")
    response = client.videos.with_raw_response.retrieve(video.id)
    assert int(response.headers["openai-poll-after-ms"]) == 20000  # capped at 20 s
    assert response.parse().status == "queued"


def test_it_fails_a_moderated_prompt_with_moderation_blocked(sim, key, client):
    video = client.videos.create(prompt=f"something {MODERATE_WORD.upper()} here")
    assert video.status == "queued"  # accepted first, like the provider
    done = wait_for(client, video.id)
    assert done.status == "failed"
    assert done.error.code == "moderation_blocked" and done.error.message
    assert done.completed_at is None and done.expires_at is None
    counters = sim.control.counters(key)
    assert counters["jobs_failed"] == 1 and counters["refunded_usd"] == counters["charged_usd"] == 0.4


def test_it_stops_serving_assets_after_expires_at(sim, key, client):
    sim.control.patch_faults(expire_seconds=1)
    video = wait_for(client, client.videos.create(prompt="short lived").id)
    assert video.expires_at - video.completed_at == 1
    assert client.videos.download_content(video.id).read()[4:8] == b"ftyp"
    time.sleep(max(0.0, video.expires_at - time.time()) + 0.2)
    with pytest.raises(openai.NotFoundError) as caught:
        client.videos.download_content(video.id)
    assert caught.value.code == "video_expired"
    assert client.videos.retrieve(video.id).status == "completed"  # the job is still there, its assets are not


def test_the_admin_api_can_expire_a_video_at_once(sim, client):
    video = wait_for(client, client.videos.create(prompt="expire me").id)
    sim.control.expire_video(video.id)
    with pytest.raises(openai.NotFoundError) as caught:
        client.videos.download_content(video.id, variant="thumbnail")
    assert caught.value.code == "video_expired"
    assert client.videos.retrieve(video.id).expires_at <= time.time()


def test_it_completes_as_fast_as_encoding_allows_with_zero_job_seconds(sim, client):
    sim.control.patch_faults(job_seconds=0)
    started = time.monotonic()
    video = wait_for(client, client.videos.create(prompt="quick").id)
    assert video.status == "completed"
    assert time.monotonic() - started < 10


def test_every_response_carries_a_request_id(sim, key):
    headers = {"Authorization": f"Bearer {key}"}
    responses = [
        httpx.get(sim.api_url + "/videos", headers=headers),
        httpx.get(sim.api_url + "/videos/video_nope", headers=headers),
        httpx.get(sim.api_url + "/videos"),  # 401
        httpx.get(sim.api_url + "/nothing-here", headers=headers),
        httpx.get(sim.url + "/_sim/faults"),
    ]
    assert [r.status_code for r in responses] == [200, 404, 401, 404, 200]
    ids = [r.headers["x-request-id"] for r in responses]
    assert all(i.startswith("req_") for i in ids) and len(set(ids)) == len(ids)
    assert responses[3].json()["error"]["type"] == "invalid_request_error"
