"""Real media (`--media real`): H.264 MP4 with faststart, the reference as first frame, motion, text, a remix that
differs and names its source, playback in Chromium; and `--pad-mb` padding that stays playable."""

import io
import struct
import subprocess

import imageio_ffmpeg
import pytest
from PIL import Image

from tests.fixtures.sorasim import API_KEY, DEFAULT_ARGS, probe_video, start_sorasim
from tests.fixtures.waits import wait_video


@pytest.fixture(scope="module")
def real():
    with start_sorasim("--media", "real", "--job-seconds", "0", "--api-key", API_KEY, "--encode-workers", "2") as sim:
        yield sim


@pytest.fixture(scope="module")
def rendered(real, tmp_path_factory):
    """A 4 s portrait clip from a red reference image, and a remix of it, downloaded."""
    folder = tmp_path_factory.mktemp("real")
    client = real.client(timeout=60)
    buf = io.BytesIO()
    Image.new("RGB", (720, 1280), (230, 20, 20)).save(buf, "PNG")
    source = client.videos.create(
        prompt="A paper boat drifts down a rainy street, close-up, soft light",
        input_reference=("ref.png", buf.getvalue(), "image/png"),
    )
    source = wait_video(client, source.id, timeout=90)
    remix = wait_video(client, client.videos.remix(source.id, prompt="The same boat in bright sunshine").id, timeout=90)
    assert source.status == remix.status == "completed"
    for video, name in ((source, "source"), (remix, "remix")):
        (folder / f"{name}.mp4").write_bytes(client.videos.download_content(video.id).read())
        (folder / f"{name}.webp").write_bytes(client.videos.download_content(video.id, variant="thumbnail").read())
        (folder / f"{name}.jpg").write_bytes(client.videos.download_content(video.id, variant="spritesheet").read())
    return {"dir": folder, "source": source, "remix": remix}


def frame(path, index, scale=None):
    """Frame `index` as an RGB Pillow image, decoded by ffmpeg."""
    filters = f"select=eq(n\\,{index})" + (f",scale={scale}" if scale else "")
    result = subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-v",
            "error",
            "-i",
            str(path),
            "-vf",
            filters,
            "-frames:v",
            "1",
            "-f",
            "image2pipe",
            "-c:v",
            "png",
            "-",
        ],
        capture_output=True,
        check=True,
    )
    return Image.open(io.BytesIO(result.stdout)).convert("RGB")


def mean_difference(a, b):
    pixels = list(zip(a.get_flattened_data(), b.get_flattened_data(), strict=True))
    return sum(abs(x - y) for p, q in pixels for x, y in zip(p, q, strict=True)) / (3 * len(pixels))


def top_level_boxes(data):
    boxes, offset = [], 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        boxes.append((kind.decode(), size))
        offset += size
    assert offset == len(data)
    return boxes


def metadata(path):
    result = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True
    )
    return result.stderr


def test_it_renders_an_h264_faststart_mp4_from_the_reference_with_text_over_motion(rendered):
    path = rendered["dir"] / "source.mp4"
    assert probe_video(path) == {"duration": 4.0, "codec": "h264", "pix_fmt": "yuv420p", "width": 720, "height": 1280}
    kinds = [kind for kind, _ in top_level_boxes(path.read_bytes())]
    assert kinds.index("moov") < kinds.index("mdat")  # faststart: playable while it downloads
    first = frame(path, 0, "72:128")
    red, green, blue = (sum(channel) / len(channel) for channel in zip(*first.get_flattened_data(), strict=True))
    assert red > 180 and green < 60 and blue < 60  # the reference image is the first frame
    later, last = frame(path, 40, "72:128"), frame(path, 90, "72:128")
    assert mean_difference(first, later) > 20
    assert mean_difference(later, last) > 3  # the picture moves
    full = frame(path, 48)
    white = sum(1 for p in full.get_flattened_data() if min(p) > 235)
    assert white > 2000  # the prompt's letters
    assert f"sorasim {rendered['source'].id}" in metadata(path)
    with Image.open(rendered["dir"] / "source.webp") as thumb:
        assert (thumb.format, thumb.size) == ("WEBP", (720, 1280))
    with Image.open(rendered["dir"] / "source.jpg") as sheet:
        assert (sheet.format, sheet.size) == ("JPEG", (900, 640))


def test_a_remix_visibly_differs_and_names_its_source(rendered):
    source, remix = rendered["dir"] / "source.mp4", rendered["dir"] / "remix.mp4"
    assert probe_video(remix)["duration"] == 4.0
    assert mean_difference(frame(source, 48, "72:128"), frame(remix, 48, "72:128")) > 15
    assert f"remix of {rendered['source'].id}" in metadata(remix)
    assert rendered["remix"].remixed_from_video_id == rendered["source"].id


@pytest.mark.browser
def test_it_plays_in_chromium(rendered, browser):
    (rendered["dir"] / "play.html").write_text('<video id="v" src="source.mp4" muted playsinline></video>')
    page = browser.new_page()
    try:
        page.goto((rendered["dir"] / "play.html").as_uri())
        state = page.evaluate("""async () => {
            const v = document.getElementById('v');
            if (v.readyState < 1) {
                await new Promise((ok, ko) => { v.onloadedmetadata = ok; v.onerror = () => ko(String(v.error.code)); });
            }
            await v.play();
            await new Promise(ok => setTimeout(ok, 800));
            return {width: v.videoWidth, height: v.videoHeight, duration: v.duration, time: v.currentTime,
                    error: v.error && v.error.code};
        }""")
    finally:
        page.close()
    assert state["error"] is None
    assert (state["width"], state["height"], state["duration"]) == (720, 1280, 4)
    assert state["time"] > 0.2  # it actually played


def test_pad_mb_grows_the_mp4_with_a_free_box_and_it_stays_valid(tmp_path):
    with start_sorasim(*DEFAULT_ARGS, "--pad-mb", "3", "--job-seconds", "0") as sim:
        client = sim.client()
        video = wait_video(client, client.videos.create(prompt="padded").id)
        response = client.videos.with_raw_response.download_content(video.id)
        data = response.http_response.content
    assert len(data) == int(response.headers["content-length"]) == 3 * 1024 * 1024
    boxes = top_level_boxes(data)
    assert boxes[-1][0] == "free" and boxes[-1][1] > 2 * 1024 * 1024
    path = tmp_path / "padded.mp4"
    path.write_bytes(data)
    assert probe_video(path)["duration"] == 4.0
    decoded = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
    )
    assert decoded.returncode == 0 and decoded.stderr == ""
