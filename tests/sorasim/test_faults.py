"""Each fault switch does what it says, at runtime through the admin API and at start from the command line."""

import json
import time

import httpx
import openai
import pytest

from tests.fixtures.sorasim import DEFAULT_ARGS, probe_video, start_sorasim
from tests.fixtures.waits import eventually, wait_video


def test_error_rate_answers_the_configured_5xx_and_creates_nothing(sim, key, client):
    sim.control.patch_faults(error_rate=1, error_statuses=[502])
    with pytest.raises(openai.InternalServerError) as caught:
        client.videos.create(prompt="never made")
    assert caught.value.status_code == 502 and caught.value.type == "server_error"
    with pytest.raises(openai.InternalServerError):
        client.videos.list()
    counters = sim.control.counters(key)
    assert counters["creates_attempted"] == 1 and counters["creates_accepted"] == 0
    assert counters["faults_fired"] == {"error": 2}
    assert counters["requests"] == {"POST /v1/videos 502": 1, "GET /v1/videos 502": 1}
    assert sim.control.videos(key) == []


def test_error_rate_mixes_statuses_and_successes(sim, key, client):
    sim.control.patch_faults(error_rate=0.5)
    statuses = []
    for _ in range(40):
        try:
            client.videos.list()
            statuses.append(200)
        except openai.InternalServerError as exc:
            statuses.append(exc.status_code)
    assert set(statuses) <= {200, 500, 502, 503}
    assert 200 in statuses and len(set(statuses)) > 2
    assert sim.control.counters(key)["faults_fired"]["error"] == sum(s != 200 for s in statuses)


def test_error_endpoints_limits_the_errors_to_those_endpoints(sim, client):
    video = wait_video(client, client.videos.create(prompt="before the storm").id)
    sim.control.patch_faults(error_rate=1, error_endpoints=["create", "remix"])
    assert client.videos.retrieve(video.id).id == video.id
    assert client.videos.download_content(video.id).read()
    with pytest.raises(openai.InternalServerError):
        client.videos.remix(video.id, prompt="stormy")


@pytest.mark.timing("a 400 ms delay against a 100 ms client timeout; only its lower bound is asserted")
def test_latency_delays_requests(sim, key, client):
    sim.control.patch_faults(latency_ms=400, latency_endpoints=["list"])
    started = time.monotonic()
    client.videos.list()
    assert time.monotonic() - started >= 0.4
    with pytest.raises(openai.APITimeoutError):
        client.videos.list(timeout=0.1)
    client.videos.create(prompt="not delayed")
    assert sim.control.counters(key)["faults_fired"]["latency"] == 2  # the two lists, not the create


def test_a_dropped_create_response_is_billed_but_never_arrives(sim, key, client):
    sim.control.patch_faults(drop_create_response_rate=1)
    with pytest.raises(openai.APIConnectionError):
        client.videos.create(prompt="ambiguous")
    jobs = sim.control.videos(key)
    assert len(jobs) == 1  # the job exists: the client must reconcile, not create again
    counters = sim.control.counters(key)
    assert counters["creates_accepted"] == 1 and counters["charged_usd"] == pytest.approx(0.4)
    assert counters["faults_fired"] == {"drop_create_response": 1}
    assert [v.id for v in client.videos.list().data] == [jobs[0]["id"]]
    assert wait_video(client, jobs[0]["id"]).status == "completed"


def test_a_dropped_create_response_is_a_broken_connection_on_the_wire(sim, key):
    sim.control.patch_faults(drop_create_response_rate=1)
    with httpx.stream(
        "POST", sim.api_url + "/videos", json={"prompt": "raw"}, headers={"Authorization": f"Bearer {key}"}
    ) as response:
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            response.read()


def test_a_truncated_download_sends_fewer_bytes_than_its_content_length(sim, key, client):
    video = wait_video(client, client.videos.create(prompt="cut short").id)
    sim.control.patch_faults(truncate_download_rate=1)
    received = bytearray()
    with httpx.stream(
        "GET", f"{sim.api_url}/videos/{video.id}/content", headers={"Authorization": f"Bearer {key}"}
    ) as response:
        declared = int(response.headers["content-length"])
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in response.iter_raw():
                received += chunk
    assert 0 < len(received) < declared
    with pytest.raises(openai.APIConnectionError):
        client.videos.download_content(video.id)
    sim.control.patch_faults(truncate_download_rate=0)
    assert len(client.videos.download_content(video.id).read()) == declared
    assert sim.control.counters(key)["faults_fired"] == {"truncate_download": 2}


def test_a_job_failure_ends_failed_with_a_server_error_and_is_refunded(sim, key, client):
    sim.control.set_key(key, credit_usd=1)
    sim.control.patch_faults(job_failure_rate=1)
    video = wait_video(client, client.videos.create(prompt="doomed").id)
    assert video.status == "failed" and video.error.code == "server_error"
    assert sim.control.key(key)["credit_usd"] == pytest.approx(1)
    counters = sim.control.counters(key)
    assert counters["refunded_usd"] == pytest.approx(0.4) and counters["faults_fired"] == {"job_failure": 1}


def test_a_short_clip_is_shorter_than_the_seconds_asked(sim, key, client, tmp_path):
    sim.control.patch_faults(short_clip_rate=1)
    video = wait_video(client, client.videos.create(prompt="short", seconds="8").id)
    assert video.status == "completed" and video.seconds == "8"
    path = tmp_path / "short.mp4"
    path.write_bytes(client.videos.download_content(video.id).read())
    assert probe_video(path)["duration"] == 6.0
    assert sim.control.counters(key)["faults_fired"] == {"short_clip": 1}


def test_a_dropped_webhook_is_never_sent(sim, key, client, receiver):
    sim.control.set_key(key, webhook_urls=[receiver.url])
    sim.control.patch_faults(webhook_drop_rate=1)
    video = wait_video(client, client.videos.create(prompt="silent").id)
    eventually(lambda: sim.control.video(video.id)["webhooks"])  # decided when the job ended: dropped, for good
    assert sim.control.video(video.id)["webhooks"][0]["state"] == "dropped"
    assert receiver.deliveries == []
    counters = sim.control.counters(key)
    assert counters["webhooks_sent"] == 0 and counters["faults_fired"] == {"webhook_drop": 1}


def test_a_duplicated_webhook_arrives_twice_with_one_id(sim, key, client, receiver):
    sim.control.set_key(key, webhook_urls=[receiver.url])
    sim.control.patch_faults(webhook_duplicate_rate=1)
    video = wait_video(client, client.videos.create(prompt="echo").id)
    deliveries = receiver.wait(2)
    assert deliveries[0][0]["webhook-id"] == deliveries[1][0]["webhook-id"]
    for headers, body, _ in deliveries:
        assert client.webhooks.unwrap(body, headers, secret=sim.control.key(key)["webhook_secret"]).data.id == video.id
    eventually(lambda: sim.control.counters(key)["webhooks_delivered"] == 2)


@pytest.mark.slow(20)
def test_reordered_webhooks_arrive_newest_first(sim, key, client, receiver):
    sim.control.set_key(key, webhook_urls=[receiver.url])
    # long jobs, ended on request: the first completes before the second, and both fall in one 12 s reorder window
    sim.control.patch_faults(webhook_reorder=True, webhook_reorder_window=12, job_seconds=600)
    first = client.videos.create(prompt="first")
    second = client.videos.create(prompt="second")
    sim.control.advance_video(first.id, 600)
    wait_video(client, first.id)
    sim.control.advance_video(second.id, 600)
    deliveries = receiver.wait(2)
    assert [json.loads(d[1])["data"]["id"] for d in deliveries] == [second.id, first.id]
    assert wait_video(client, first.id).completed_at <= wait_video(client, second.id).completed_at
    assert sim.control.counters(key)["faults_fired"] == {"webhook_reorder": 1}


def test_faults_given_at_start_apply_and_a_seed_replays_them():
    args = (
        *DEFAULT_ARGS,
        "--seed",
        "7",
        "--fault-rate",
        "0.5",
        "--fault-statuses",
        "500,503",
        "--fault-endpoints",
        "create",
        "--job-failure-rate",
        "0.5",
        "--job-seconds",
        "0",
    )
    runs = []
    for _ in range(2):
        with start_sorasim(*args) as sim:
            client = sim.client()
            statuses, jobs = [], []
            for i in range(10):
                try:
                    jobs.append(client.videos.create(prompt=f"seeded {i}").id)
                    statuses.append(200)
                except openai.InternalServerError as exc:
                    statuses.append(exc.status_code)
            outcomes = [wait_video(client, j).status for j in jobs]
            runs.append((statuses, outcomes))
    assert runs[0] == runs[1]
    statuses, outcomes = runs[0]
    assert 200 in statuses and set(statuses) - {200} and set(statuses) <= {200, 500, 503}
    assert set(outcomes) == {"completed", "failed"}
