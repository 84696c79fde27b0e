import struct
import subprocess

import imageio_ffmpeg
import pytest

from providers.mp4 import Mp4Error, Mp4Scanner, movie_duration


def encode(path, seconds, *flags):
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
         "color=c=blue:size=64x48:rate=4", "-t", str(seconds), "-pix_fmt", "yuv420p", *flags, str(path)],
        check=True,
    )
    return path.read_bytes()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mp4")
    return {
        "moov_last": encode(folder / "a.mp4", 2.5),
        "faststart": encode(folder / "b.mp4", 4, "-movflags", "+faststart"),
        "fragmented": encode(folder / "c.mp4", 3, "-movflags", "frag_keyframe"),
    }


def scan(data, chunk):
    scanner = Mp4Scanner()
    for start in range(0, len(data), chunk):
        scanner.feed(data[start:start + chunk])
    return scanner.finish()


@pytest.mark.parametrize("name, seconds", [("moov_last", 2.5), ("faststart", 4.0), ("fragmented", 3.0)])
@pytest.mark.parametrize("chunk", [1, 7, 8, 16, 4096, 1 << 30])
def test_it_reads_the_duration_in_any_chunking(clips, name, seconds, chunk):
    assert scan(clips[name], chunk) == pytest.approx(seconds)


@pytest.mark.parametrize("name", ["moov_last", "faststart"])
def test_it_detects_every_truncation(clips, name):
    data = clips[name]
    for cut in [1, 7, 8, 9, 15, 16, len(data) // 3, len(data) // 2, len(data) - 1]:
        with pytest.raises(Mp4Error):
            scan(data[:cut], 1000)


def test_it_counts_past_a_large_padding_box_without_keeping_it(clips):
    scanner = Mp4Scanner()
    scanner.feed(clips["faststart"])
    pad = 50 * 1024 * 1024
    scanner.feed(struct.pack(">I4s", pad + 8, b"free"))
    zeros = bytes(1 << 20)
    for _ in range(50):
        scanner.feed(zeros)
    assert scanner.finish() == pytest.approx(4.0)
    assert scanner._moov is None


def test_it_reads_a_64_bit_box_size(clips):
    data = clips["faststart"] + struct.pack(">I4sQ", 1, b"free", 16 + 5) + b"12345"
    assert scan(data, 3) == pytest.approx(4.0)


def test_it_rejects_what_is_not_an_mp4():
    with pytest.raises(Mp4Error, match="not an MP4"):
        scan(b"<html><body>502 Bad Gateway</body></html>", 10)
    with pytest.raises(Mp4Error, match="no moov"):
        scan(struct.pack(">I4s", 12, b"ftyp") + b"isom", 10)


def test_it_rejects_a_movie_without_duration():
    mvhd = struct.pack(">I4sB3xIIII", 8 + 20, b"mvhd", 0, 0, 0, 1000, 0)
    moov = struct.pack(">I4s", 8 + len(mvhd), b"moov") + mvhd
    with pytest.raises(Mp4Error, match="no duration"):
        scan(moov, 5)
    assert movie_duration(struct.pack(">I4sB3xIIII", 28, b"mvhd", 0, 0, 0, 600, 2400)) == 4.0
