"""--data-dir: jobs, key state and media survive a restart; a job in flight finishes after it. Killed (SIGKILL) like
a real provider's crash: a job it answered for is kept and billed, a create it never answered made no job."""

import threading

import httpx
import openai

from tests.fixtures.sorasim import API_KEY, probe_video
from tests.fixtures.waits import eventually, wait_video


def test_it_keeps_jobs_keys_and_media_across_a_restart(sorasim, tmp_path):
    client = sorasim.client()
    sorasim.control.set_key(API_KEY, credit_usd=10, rpm=100)
    done = wait_video(client, client.videos.create(prompt="before the restart", seconds="4").id)
    sorasim.control.patch_faults(job_seconds=3)
    in_flight = client.videos.create(prompt="during the restart")
    failed = wait_video(client, client.videos.create(prompt="forbidden before").id)

    sorasim.restart()
    client = sorasim.client()

    again = client.videos.retrieve(done.id)
    assert again.model_dump() == done.model_dump()
    path = tmp_path / "after.mp4"
    path.write_bytes(client.videos.download_content(done.id).read())
    assert probe_video(path)["duration"] == 4.0
    assert client.videos.retrieve(failed.id).error.code == "moderation_blocked"
    key = sorasim.control.key(API_KEY)
    assert key["credit_usd"] == round(10 - 0.4 * 2, 6)  # two billed, the moderated one refunded
    assert key["rpm"] == 100
    assert [v.id for v in client.videos.list(order="asc").data] == [done.id, in_flight.id, failed.id]

    finished = wait_video(client, in_flight.id)
    assert finished.status == "completed"
    assert finished.completed_at >= in_flight.created_at + 3 - 1  # it kept its schedule, not a fresh one
    assert client.videos.download_content(in_flight.id, variant="thumbnail").read()[:4] == b"RIFF"


def test_it_keeps_a_deletion_across_a_restart(sorasim):
    client = sorasim.client()
    video = wait_video(client, client.videos.create(prompt="gone").id)
    client.videos.delete(video.id)
    sorasim.restart()
    assert sorasim.control.video(video.id)["deleted"] is True
    assert sorasim.client().videos.list().data == []
    assert not (sorasim.data_dir / "media" / video.id).exists()


def test_start_options_win_over_the_kept_webhook_settings_but_not_over_the_credit(sorasim):
    sorasim.control.set_key(API_KEY, credit_usd=3, webhook_urls=["http://127.0.0.1:1/old"])
    sorasim.client().videos.create(prompt="spend a little")
    sorasim.env.update(SORASIM_WEBHOOK_URL="http://127.0.0.1:1/new", SORASIM_RPM="11")
    sorasim.restart()
    key = sorasim.control.key(API_KEY)
    assert key["webhook_urls"] == ["http://127.0.0.1:1/new"] and key["rpm"] == 11
    assert key["credit_usd"] == 2.6  # a running balance is not reset by a restart


def test_a_job_answered_just_before_a_kill_is_kept_and_billed(sorasim):
    """What the provider answered for exists after a crash: the job is on disk before the answer leaves."""
    sorasim.control.set_key(API_KEY, credit_usd=10)
    client = sorasim.client()
    answered = [client.videos.create(prompt=f"answered {n}").id for n in range(5)]

    sorasim.kill()  # at once: nothing the server had not written by the time it answered survives
    sorasim.start()
    client = sorasim.client()

    assert [v.id for v in client.videos.list(order="asc").data] == answered
    assert sorasim.control.key(API_KEY)["credit_usd"] == round(10 - 0.4 * 5, 6)  # each billed once
    assert all(job["cost_usd"] == 0.4 for job in sorasim.control.videos(API_KEY))
    assert wait_video(client, answered[-1]).status == "completed"  # and it goes on to finish


def test_a_create_killed_before_its_answer_made_no_job_and_cost_nothing(sorasim):
    """A create still waiting at the provider when it dies was never accepted: no job, no charge, and the client
    sees a broken connection (not an answer), so it must look before it sends the create again."""
    sorasim.control.set_key(API_KEY, credit_usd=10)
    sorasim.control.patch_faults(latency_ms=30_000, latency_endpoints=["create"])
    client = sorasim.client()
    outcome = []
    sender = threading.Thread(target=lambda: outcome.append(_create_or_error(client, "never answered")))
    sender.start()
    eventually(lambda: sorasim.control.counters(API_KEY)["faults_fired"].get("latency") == 1, 10)

    sorasim.kill()
    sender.join(10)
    sorasim.start()

    assert isinstance(outcome[0], openai.APIConnectionError), outcome
    assert sorasim.control.videos(API_KEY) == []
    assert sorasim.control.key(API_KEY)["credit_usd"] == 10


def _create_or_error(client, prompt):
    try:
        return client.videos.create(prompt=prompt)
    except (openai.APIError, httpx.HTTPError) as exc:
        return exc
