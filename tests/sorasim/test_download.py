"""GET /v1/videos/{id}/content: the three variants, their types, lengths and media properties; errors before."""

import io

import httpx
import openai
import pytest
from PIL import Image

from tests.fixtures.sorasim import probe_video
from tests.fixtures.waits import wait_video


@pytest.fixture
def video(client):
    return wait_video(client, client.videos.create(prompt="a kite over dunes", size="1280x720", seconds="8").id)


def test_it_serves_an_h264_mp4_of_the_exact_size_and_duration(client, video, tmp_path):
    response = client.videos.with_raw_response.download_content(video.id)
    assert response.headers["content-type"] == "video/mp4"
    data = response.http_response.content
    assert int(response.headers["content-length"]) == len(data)
    path = tmp_path / "v.mp4"
    path.write_bytes(data)
    assert probe_video(path) == {"duration": 8.0, "codec": "h264", "pix_fmt": "yuv420p", "width": 1280, "height": 720}


def test_it_serves_a_webp_thumbnail_and_a_jpeg_spritesheet(client, video):
    thumb = client.videos.with_raw_response.download_content(video.id, variant="thumbnail")
    assert thumb.headers["content-type"] == "image/webp"
    assert int(thumb.headers["content-length"]) == len(thumb.http_response.content)
    with Image.open(io.BytesIO(thumb.http_response.content)) as image:
        assert (image.format, image.size) == ("WEBP", (1280, 720))
    sheet = client.videos.with_raw_response.download_content(video.id, variant="spritesheet")
    assert sheet.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(sheet.http_response.content)) as image:
        assert (image.format, image.size) == ("JPEG", (5 * 320, 2 * 180))  # 5x2 tiles, each a quarter of the frame


def test_it_supports_range_requests(sim, key, video):
    url = f"{sim.api_url}/videos/{video.id}/content"
    headers = {"Authorization": f"Bearer {key}"}
    whole = httpx.get(url, headers=headers).content
    part = httpx.get(url, headers={**headers, "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole[100:200]


def test_it_rejects_an_unknown_variant(client, video):
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.download_content(video.id, extra_query={"variant": "poster"})
    assert caught.value.param == "variant"


def test_it_gives_an_error_not_bytes_for_an_unfinished_video(sim, client):
    sim.control.patch_faults(job_seconds=600)
    video = client.videos.create(prompt="not yet")
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.download_content(video.id)
    assert caught.value.code == "video_not_ready"


def test_it_gives_an_error_not_bytes_for_a_failed_video(client):
    video = wait_video(client, client.videos.create(prompt="forbidden fruit").id)
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.download_content(video.id, variant="spritesheet")
    assert caught.value.code == "video_failed"
