"""A job's life: queued, in_progress with rising progress, completed or failed; poll hints, expiry, request ids."""

import time

import httpx
import openai
import pytest

from tests.fixtures.sorasim import MODERATE_WORD
from tests.fixtures.waits import wait_video


def test_it_moves_from_queued_through_rising_progress_to_completed(sim, key, client):
    # a 600 s job: queued for its first minute of real time, then moved through its life by the admin API, so what
    # each retrieve sees does not depend on how fast this machine is
    sim.control.patch_faults(job_seconds=600)
    video = client.videos.create(prompt="a slow sunrise")
    seen = [(video.status, video.progress)]
    hints = []

    def look():
        response = client.videos.with_raw_response.retrieve(video.id)
        current = response.parse()
        seen.append((current.status, current.progress))
        if current.status != "completed":
            hints.append(int(response.headers["openai-poll-after-ms"]))
        else:
            assert "openai-poll-after-ms" not in response.headers
        return current

    look()
    for seconds in (120, 300, 165):  # 2 min in (in progress, far from the end), 7 min, 9 min 45 s (15 s left)
        sim.control.advance_video(video.id, seconds)
        look()
    sim.control.advance_video(video.id, 60)  # past its end: it encodes and completes
    wait_video(client, video.id)
    look()
    statuses = [s for s, _ in seen]
    assert statuses[:2] == ["queued", "queued"] and statuses[-1] == "completed"
    assert statuses[2:5] == ["in_progress"] * 3
    progress = [p for s, p in seen if s == "in_progress"]
    assert progress == sorted(progress) and progress[-1] > progress[0]
    assert all(1000 <= h <= 20000 for h in hints)
    assert hints[0] == 20000 and hints[-1] <= 15000  # the hint follows the remaining time, capped at 20 s
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
    done = wait_video(client, video.id)
    assert done.status == "failed"
    assert done.error.code == "moderation_blocked" and done.error.message
    assert done.completed_at is None and done.expires_at is None
    counters = sim.control.counters(key)
    assert counters["jobs_failed"] == 1 and counters["refunded_usd"] == counters["charged_usd"] == 0.4


def test_it_stops_serving_assets_after_expires_at(sim, key, client):
    sim.control.patch_faults(expire_seconds=600)
    video = wait_video(client, client.videos.create(prompt="short lived").id)
    assert video.expires_at - video.completed_at == 600
    assert client.videos.download_content(video.id).read()[4:8] == b"ftyp"
    sim.control.advance_video(video.id, 600)  # its expires_at is now, rather than in ten minutes
    with pytest.raises(openai.NotFoundError) as caught:
        client.videos.download_content(video.id)
    assert caught.value.code == "video_expired"
    assert client.videos.retrieve(video.id).status == "expired"  # the job is still there, its assets are not


def test_the_admin_api_can_expire_a_video_at_once(sim, client):
    video = wait_video(client, client.videos.create(prompt="expire me").id)
    sim.control.expire_video(video.id)
    with pytest.raises(openai.NotFoundError) as caught:
        client.videos.download_content(video.id, variant="thumbnail")
    assert caught.value.code == "video_expired"
    assert client.videos.retrieve(video.id).expires_at <= time.time()


def test_it_completes_as_fast_as_encoding_allows_with_zero_job_seconds(sim, client):
    sim.control.patch_faults(job_seconds=0)
    video = client.videos.create(prompt="quick")
    job = sim.control.video(video.id)
    assert job["created"] == job["started"] == job["due"]  # nothing to wait for but the encode
    assert wait_video(client, video.id).status == "completed"


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
