"""GET /v1/videos (pagination envelope, order, bounds) and DELETE /v1/videos/{id}; each key sees only its own."""

import openai
import pytest

from tests.fixtures.waits import wait_video


@pytest.fixture
def five(client):
    return [client.videos.create(prompt=f"clip {i}").id for i in range(5)]


def test_it_lists_newest_first_by_default_with_the_envelope(sim, key, client, five):
    page = client.videos.with_raw_response.list(limit=2)
    body = page.http_response.json()
    assert set(body) == {"object", "data", "first_id", "last_id", "has_more"}
    assert body["object"] == "list"
    assert [v["id"] for v in body["data"]] == five[::-1][:2]
    assert body["first_id"] == five[4] and body["last_id"] == five[3] and body["has_more"] is True


def test_it_pages_with_after_until_has_more_is_false(client, five):
    ids, after = [], None
    while True:
        page = client.videos.list(limit=2, **({"after": after} if after else {}))
        ids += [v.id for v in page.data]
        if not page.has_more:
            break
        after = page.last_id
    assert ids == five[::-1]
    assert [v.id for v in client.videos.list(limit=2)] == five[::-1]  # the SDK's auto-pagination agrees


def test_it_lists_oldest_first_with_order_asc(client, five):
    assert [v.id for v in client.videos.list(order="asc", limit=100).data] == five
    page = client.videos.list(order="asc", after=five[1], limit=2)
    assert [v.id for v in page.data] == five[2:4] and page.has_more is True


def test_it_handles_limit_bounds(client, five):
    empty = client.videos.list(limit=0)
    assert empty.data == [] and empty.has_more is True and empty.last_id is None
    assert len(client.videos.list(limit=100).data) == 5
    for bad in (-1, 101):
        with pytest.raises(openai.BadRequestError) as caught:
            client.videos.list(limit=bad)
        assert caught.value.param == "limit"
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.list(order="sideways")
    assert caught.value.param == "order"
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.list(after="video_unknown")
    assert caught.value.param == "after"


def test_a_key_sees_only_its_own_videos(sim, client, five):
    other = sim.client(api_key=sim.control.set_key("sk-other-list-key")["key"])
    assert five[0] not in [v.id for v in other.videos.list(limit=100).data]
    with pytest.raises(openai.NotFoundError):
        other.videos.retrieve(five[0])
    with pytest.raises(openai.NotFoundError):
        other.videos.download_content(five[0])


def test_it_deletes_a_completed_video(sim, client):
    video = wait_video(client, client.videos.create(prompt="delete me").id)
    deleted = client.videos.with_raw_response.delete(video.id)
    assert deleted.http_response.json() == {"id": video.id, "object": "video.deleted", "deleted": True}
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content(video.id)
    assert video.id not in [v.id for v in client.videos.list(limit=100).data]
    with pytest.raises(openai.NotFoundError):
        client.videos.delete(video.id)


def test_it_deletes_a_failed_video(client):
    video = wait_video(client, client.videos.create(prompt="this is forbidden").id)
    assert video.status == "failed"
    assert client.videos.delete(video.id).deleted is True


def test_it_refuses_to_delete_an_unfinished_video(sim, client):
    sim.control.patch_faults(job_seconds=600)
    video = client.videos.create(prompt="still going")
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.delete(video.id)
    assert caught.value.code == "invalid_state"
    assert client.videos.retrieve(video.id).status in ("queued", "in_progress")


def test_it_answers_404_for_an_unknown_video(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.videos.retrieve("video_" + "0" * 48)
    assert caught.value.status_code == 404 and caught.value.body["type"] == "invalid_request_error"
