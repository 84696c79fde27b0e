"""Remix in both forms: POST /v1/videos/{id}/remix and POST /v1/videos with remix_video_id."""

import openai
import pytest

from tests.fixtures.sorasim import probe_video
from tests.fixtures.waits import wait_video


@pytest.fixture
def source(client):
    return wait_video(
        client, client.videos.create(prompt="a lighthouse", model="sora-2-pro", size="1024x1792", seconds="8").id
    )


def test_it_remixes_through_the_remix_endpoint(sim, key, client, source, tmp_path):
    remix = client.videos.remix(source.id, prompt="the lighthouse at night")
    assert remix.remixed_from_video_id == source.id
    assert (remix.model, remix.size, remix.seconds) == ("sora-2-pro", "1024x1792", "8")  # inherited
    assert remix.prompt == "the lighthouse at night" and remix.id != source.id
    done = wait_video(client, remix.id)
    assert done.status == "completed" and done.remixed_from_video_id == source.id
    path = tmp_path / "remix.mp4"
    path.write_bytes(client.videos.download_content(remix.id).read())
    assert probe_video(path)["duration"] == 8.0
    counters = sim.control.counters(key)
    assert counters["creates_accepted"] == 2 and counters["charged_usd"] == pytest.approx(2 * 8 * 0.50)
    assert counters["requests"]["POST /v1/videos/{video_id}/remix 200"] == 1


def test_it_remixes_through_create_with_remix_video_id(client, source):
    remix = client.videos.create(prompt="the lighthouse in fog", extra_body={"remix_video_id": source.id})
    assert remix.remixed_from_video_id == source.id
    assert (remix.model, remix.size, remix.seconds) == ("sora-2-pro", "1024x1792", "8")
    assert wait_video(client, remix.id).status == "completed"


def test_a_remix_can_be_remixed(client, source):
    first = wait_video(client, client.videos.remix(source.id, prompt="second").id)
    second = client.videos.remix(first.id, prompt="third")
    assert second.remixed_from_video_id == first.id


def test_it_refuses_to_remix_an_unfinished_video(sim, client):
    sim.control.patch_faults(job_seconds=600)
    pending = client.videos.create(prompt="pending")
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.remix(pending.id, prompt="too soon")
    assert caught.value.param == "video_id" and caught.value.code == "invalid_state"
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(prompt="too soon", extra_body={"remix_video_id": pending.id})
    assert caught.value.param == "remix_video_id"


def test_it_refuses_to_remix_a_failed_video(client):
    failed = wait_video(client, client.videos.create(prompt="forbidden").id)
    with pytest.raises(openai.BadRequestError):
        client.videos.remix(failed.id, prompt="again")


def test_it_answers_404_for_an_unknown_or_foreign_source(sim, client, source):
    with pytest.raises(openai.NotFoundError):
        client.videos.remix("video_" + "1" * 48, prompt="x")
    stranger = sim.client(api_key=sim.control.set_key("sk-remix-stranger")["key"])
    with pytest.raises(openai.NotFoundError):
        stranger.videos.remix(source.id, prompt="not mine")
    with pytest.raises(openai.NotFoundError) as caught:
        stranger.videos.create(prompt="not mine", extra_body={"remix_video_id": source.id})
    assert caught.value.param == "remix_video_id"


def test_it_validates_the_remix_prompt(client, source):
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.remix(source.id, prompt="")
    assert caught.value.param == "prompt"
