"""The admin API under /_sim/ (through sorasim.control): keys, faults, counters exact under concurrency, resets."""

import collections
import concurrent.futures
import random

import openai
import pytest

from sorasim.control import SimControlError
from tests.fixtures.sorasim import API_KEY, WEBHOOK_SECRET
from tests.fixtures.waits import wait_video


def test_it_creates_and_updates_keys(sim):
    created = sim.control.set_key("sk-admin-new", credit_usd=1.25, rpm=7)
    assert created == {
        "key": "sk-admin-new",
        "valid": True,
        "credit_usd": 1.25,
        "rpm": 7,
        "webhook_urls": [],
        "webhook_secret": WEBHOOK_SECRET,
        "requests_in_window": 0,
        "deploying_seconds": 0,
    }
    updated = sim.control.set_key("sk-admin-new", webhook_urls=["http://127.0.0.1:1/x"], credit_usd=None)
    assert updated["credit_usd"] is None and updated["rpm"] == 7 and updated["webhook_urls"] == ["http://127.0.0.1:1/x"]
    assert {k["key"] for k in sim.control.keys()} == {API_KEY, "sk-admin-new"}
    assert sim.client(api_key="sk-admin-new").videos.list().data == []


def test_it_validates_key_fields(sim):
    for fields in (
        {"credit_usd": -1},
        {"rpm": 1.5},
        {"webhook_urls": ["ftp://x"]},
        {"webhook_secret": "plain"},
        {"valid": "yes"},
        {"colour": "red"},
    ):
        with pytest.raises(SimControlError) as caught:
            sim.control.set_key(API_KEY, **fields)
        assert caught.value.status == 400
        assert caught.value.body["error"]["message"]
    assert sim.control.key(API_KEY)["rpm"] == 0  # nothing half-applied


def test_top_up_adds_to_the_credit_and_leaves_unlimited_alone(sim, key):
    assert sim.control.key(key)["credit_usd"] is None
    assert sim.control.top_up(key, 5)["credit_usd"] is None
    sim.control.set_key(key, credit_usd=0.1)
    assert sim.control.top_up(key, 0.2)["credit_usd"] == pytest.approx(0.3)
    with pytest.raises(SimControlError) as caught:
        sim.control.top_up(key, 0)
    assert caught.value.status == 400
    with pytest.raises(SimControlError) as caught:
        sim.control.top_up("sk-no-such-key", 1)
    assert caught.value.status == 404


def test_a_deleted_key_is_refused(sim, key, client):
    client.videos.list()
    sim.control.delete_key(key)
    with pytest.raises(openai.AuthenticationError):
        client.videos.list()
    assert sim.control.counters("(unknown)")["requests"]["GET /v1/videos 401"] >= 1


def test_it_reads_changes_validates_and_resets_faults(sim):
    faults = sim.control.faults()
    assert faults["error_rate"] == 0 and faults["error_statuses"] == [500, 502, 503] and faults["job_seconds"] == 0.3
    changed = sim.control.patch_faults(error_rate=0.25, webhook_reorder=True, latency_ms=5)
    assert (changed["error_rate"], changed["webhook_reorder"], changed["latency_ms"]) == (0.25, True, 5)
    for fields in (
        {"error_rate": 2},
        {"error_statuses": [404]},
        {"error_endpoints": ["nope"]},
        {"webhook_reorder": 1},
        {"job_seconds": -1},
        {"no_such_fault": 1},
    ):
        with pytest.raises(SimControlError) as caught:
            sim.control.patch_faults(**fields)
        assert caught.value.status == 400
    assert sim.control.faults()["error_rate"] == 0.25
    reset = sim.control.reset_faults()
    assert reset["error_rate"] == 0 and reset["job_seconds"] == 1  # the startup values (--job-seconds 1)


def test_job_seconds_changes_at_runtime_for_new_jobs(sim, client):
    sim.control.patch_faults(job_seconds=30)
    slow = client.videos.create(prompt="slow")
    sim.control.patch_faults(job_seconds=0.2)
    fast = wait_video(client, client.videos.create(prompt="fast").id)
    assert fast.status == "completed"
    assert client.videos.retrieve(slow.id).status in ("queued", "in_progress")


def test_counters_are_exact_under_concurrency(sim, key, client):
    done = wait_video(client, client.videos.create(prompt="seed video").id)
    sim.control.reset_counters(key)
    expected = collections.Counter()
    accepted = []
    rng = random.Random(4)
    plan = [rng.choice(["create", "retrieve", "missing", "list", "content", "bad"]) for _ in range(160)]

    def run(op):
        try:
            if op == "create":
                accepted.append(client.videos.create(prompt="concurrent").id)
                return "POST /v1/videos 200"
            if op == "retrieve":
                client.videos.retrieve(done.id)
                return "GET /v1/videos/{video_id} 200"
            if op == "missing":
                client.videos.retrieve("video_" + "f" * 48)
            if op == "list":
                client.videos.list(limit=1)
                return "GET /v1/videos 200"
            if op == "content":
                client.videos.download_content(done.id, variant="thumbnail").read()
                return "GET /v1/videos/{video_id}/content 200"
            if op == "bad":
                client.videos.create(prompt="")
        except openai.NotFoundError:
            return "GET /v1/videos/{video_id} 404"
        except openai.BadRequestError:
            return "POST /v1/videos 400"
        raise AssertionError(op)

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        expected.update(pool.map(run, plan))
    counters = sim.control.counters(key)
    assert counters["requests"] == dict(expected)
    assert counters["creates_attempted"] == plan.count("create") + plan.count("bad")
    assert counters["creates_accepted"] == len(accepted) == plan.count("create")
    assert counters["charged_usd"] == pytest.approx(0.4 * len(accepted))
    # the all-keys view shows the same; read later, so the accepted jobs may have finished meanwhile: compare what
    # the requests alone decide
    everyone = sim.control.counters()["keys"][key]
    decided = ("requests", "creates_attempted", "creates_accepted", "charged_usd")
    assert {name: everyone[name] for name in decided} == {name: counters[name] for name in decided}


def test_reset_counters_for_one_key_or_all(sim, key, client):
    client.videos.list()
    sim.client().videos.list()
    sim.control.reset_counters(key)
    assert sim.control.counters(key)["requests"] == {}
    assert sim.control.counters(API_KEY)["requests"] == {"GET /v1/videos 200": 1}
    sim.control.reset_counters()
    # older jobs of the shared server may still finish and count; no request is made meanwhile
    assert all(c["requests"] == {} for c in sim.control.counters()["keys"].values())


def test_reset_restores_keys_faults_and_counters(sim, key, client):
    sim.control.set_key(API_KEY, credit_usd=0, rpm=1)
    sim.control.patch_faults(error_rate=1)
    sim.control.reset()
    assert sim.control.key(API_KEY)["credit_usd"] is None and sim.control.key(API_KEY)["rpm"] == 0
    assert {k["key"] for k in sim.control.keys()} == {API_KEY}  # keys added at runtime are gone
    assert sim.control.faults()["error_rate"] == 0
    assert all(c["requests"] == {} for c in sim.control.counters()["keys"].values())


def test_it_shows_jobs_with_their_internals(sim, key, client):
    video = client.videos.create(prompt="inside")
    job = sim.control.video(video.id)
    assert job["key"] == key and job["cost_usd"] == 0.4 and job["failure"] is None
    assert [j["id"] for j in sim.control.videos(key)] == [video.id]
    with pytest.raises(SimControlError) as caught:
        sim.control.video("video_missing")
    assert caught.value.status == 404


@pytest.mark.slow(20)
def test_advancing_a_job_moves_its_whole_timeline_and_wakes_it(sim, key, client):
    sim.control.patch_faults(job_seconds=600)
    video = client.videos.create(prompt="a long take")
    before = sim.control.video(video.id)
    after = sim.control.advance_video(video.id, 330)  # 60 s queued, then 540 s of progress: half of it gone
    assert [after[f] - before[f] for f in ("created", "started", "due")] == pytest.approx([-330] * 3)
    assert after["status"] == "in_progress" and 50 <= after["progress"] < 60  # 1 % more per 5.4 s this test takes
    sim.control.advance_video(video.id, 270)
    done = wait_video(client, video.id)  # its driver woke up: it completes now, not in ten minutes
    assert done.status == "completed" and done.expires_at == done.completed_at + 3600
    expired = sim.control.advance_video(video.id, 3600)
    assert expired["expires_at"] == done.expires_at - 3600
    with pytest.raises(openai.NotFoundError) as caught:
        client.videos.download_content(video.id)
    assert caught.value.code == "video_expired"


def test_advancing_needs_whole_seconds_and_a_known_job(sim, client):
    video = client.videos.create(prompt="not moved")
    for bad in (0, -5, 1.5, "10", None, True):
        with pytest.raises(SimControlError) as caught:
            sim.control.advance_video(video.id, bad)
        assert caught.value.status == 400 and caught.value.body["error"]["param"] == "seconds"
    with pytest.raises(SimControlError) as caught:
        sim.control.advance_video("video_missing", 10)
    assert caught.value.status == 404
