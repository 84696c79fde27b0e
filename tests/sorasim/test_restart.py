"""--data-dir: jobs, key state and media survive a restart; a job in flight finishes after it."""

from tests.fixtures.sorasim import API_KEY, probe_video
from tests.fixtures.waits import wait_video


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
