"""Rendering a job's assets with the ffmpeg binary shipped by imageio-ffmpeg: MP4, webp thumbnail, jpeg spritesheet.

One ffmpeg run writes all three. The picture is a moving colour field with a card showing the prompt (drawn
with Pillow's bundled font, so no system fonts are needed) bobbing over it; a remix gets other colours, another
pattern and a "REMIX of video_..." banner; a reference image is the first frame. `fast` keeps the exact size,
duration and codec but draws a flat colour at 4 frames per second. Encodes run as child processes (niced), so
the event loop only waits on them.
"""

import asyncio
import concurrent.futures
import hashlib
import multiprocessing
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
from PIL import Image, ImageDraw, ImageFont

ASSETS = {  # variant -> (file name, content type)
    "video": ("video.mp4", "video/mp4"),
    "thumbnail": ("thumbnail.webp", "image/webp"),
    "spritesheet": ("spritesheet.jpg", "image/jpeg"),
}
SPRITE_COLUMNS, SPRITE_ROWS = 5, 2  # ten frames, each a quarter of the video's width and height
SHORT_CLIP_FRACTION = 0.75
REAL_FPS, FAST_FPS = 24, 2
PATTERNS = ("spiral", "radial", "circular", "linear")


class EncodeError(RuntimeError):
    pass


@dataclass
class RenderSpec:
    video_id: str
    prompt: str
    model: str
    size: str
    seconds: int
    remixed_from: str | None = None
    reference: Path | None = None  # any image Pillow reads, already checked to be exactly `size`
    short_clip: bool = False
    media: str = "real"
    pad_mb: float = 0.0

    @property
    def width(self):
        return int(self.size.split("x")[0])

    @property
    def height(self):
        return int(self.size.split("x")[1])

    @property
    def duration(self):
        return self.seconds * SHORT_CLIP_FRACTION if self.short_clip else float(self.seconds)


def _palette(seed_text):
    digest = hashlib.sha256(seed_text.encode()).digest()
    return ["0x" + digest[i : i + 3].hex() for i in (0, 3, 6)]


def _wrap(text, font, width, max_lines):
    """Greedy word wrap by rendered pixel width (long words are cut)."""
    lines, line = [], ""
    for word in text.split():
        while font.getlength(word) > width:  # a word wider than the card gets a line (or more) of its own
            cut = max(1, int(len(word) * width / font.getlength(word)) - 1)
            lines += [line, word[:cut]] if line else [word[:cut]]
            line, word = "", word[cut:]
        candidate = f"{line} {word}".strip()
        if font.getlength(candidate) <= width:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[: max_lines - 1] + [lines[max_lines - 1] + " ..."]
    return lines or [""]


def _card(spec):
    """A translucent RGBA card with the prompt (and, for a remix, its source) wrapped to the video's width."""
    width = int(spec.width * 0.84)
    size = max(16, spec.width // 24)
    font, small = ImageFont.load_default(size=size), ImageFont.load_default(size=max(12, size * 2 // 3))
    pad = size // 2
    inner = width - 2 * pad
    header = _wrap(f"REMIX of {spec.remixed_from}" if spec.remixed_from else "sorasim", small, inner, 2)
    body = _wrap(spec.prompt, font, inner, 10)
    footer = _wrap(f"{spec.model}  {spec.size}  {spec.seconds}s  {spec.video_id}", small, inner, 2)
    line_h, small_h = int(size * 1.3), int(size * 0.9)
    height = 2 * pad + small_h * (len(header) + len(footer)) + line_h * len(body) + size
    card = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(card)
    fill = (120, 20, 40, 190) if spec.remixed_from else (10, 10, 20, 170)
    draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=size // 2, fill=fill)
    y = pad
    for line in header:
        draw.text((pad, y), line, font=small, fill=(255, 220, 120, 255))
        y += small_h
    y += size // 2
    for line in body:
        draw.text((pad, y), line, font=font, fill=(255, 255, 255, 255))
        y += line_h
    y += size // 2
    for line in footer:
        draw.text((pad, y), line, font=small, fill=(200, 200, 210, 255))
        y += small_h
    return card


def _prepare_inputs(spec, workdir):
    """Pillow work (the card, the reference decoded to PNG): run in a thread, off the event loop."""
    card_path = workdir / "card.png"
    _card(spec).save(card_path)
    ref_path = None
    if spec.reference is not None:
        ref_path = workdir / "reference.png"
        with Image.open(spec.reference) as image:
            image.convert("RGB").resize((spec.width, spec.height)).save(ref_path)
    return card_path, ref_path


def ffmpeg_command(spec, card_path, ref_path, outdir):
    w, h, duration = spec.width, spec.height, spec.duration
    colours = _palette(f"{spec.prompt}|{spec.remixed_from or ''}")
    if spec.media == "fast":
        fps = FAST_FPS
        source = f"color=c={colours[0]}:s={w}x{h}:r={fps}:d={duration}"
        background = "[0:v]format=yuv420p[bg]"
    else:
        fps = REAL_FPS
        # a small moving field scaled up is a fraction of the cost of drawing it at full size
        pattern = PATTERNS[(int(hashlib.sha256(spec.prompt.encode()).hexdigest(), 16) + bool(spec.remixed_from)) % 4]
        if spec.remixed_from and pattern == "spiral":
            pattern = "radial"
        source = (
            f"gradients=s={w // 8}x{h // 8}:r={fps}:d={duration}:c0={colours[0]}:c1={colours[1]}:c2={colours[2]}"
            f":nb_colors=3:speed=0.03:type={pattern}:seed={int(colours[0], 16)}"
        )
        background = f"[0:v]scale={w}:{h}:flags=bilinear,format=yuv420p[bg]"
    frames = max(1, round(duration * fps))
    tiles = SPRITE_COLUMNS * SPRITE_ROWS
    graph = [
        background,
        f"[bg][1:v]overlay=x='(W-w)/2+W*0.04*sin(2*PI*t/{max(duration, 1) / 2})'"
        f":y='(H-h)/2+H*0.08*sin(2*PI*t/{max(duration, 1)})':eval=frame:format=yuv420[txt]",
    ]
    last = "txt"
    if ref_path is not None:
        graph.append("[txt][2:v]overlay=x=0:y=0:format=yuv420:enable='eq(n\\,0)'[ref]")
        last = "ref"
    graph += [
        f"[{last}]format=yuv420p,split=3[v][t][s]",
        f"[t]select='eq(n\\,{frames // 2})'[thumb]",
        # evenly spaced frames (repeated when the clip has fewer than `tiles`), a quarter of the size each
        f"[s]fps={tiles}/{duration},scale={w // 4}:{h // 4},tile={SPRITE_COLUMNS}x{SPRITE_ROWS}[sheet]",
    ]
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
    cmd += ["-f", "lavfi", "-i", source, "-i", str(card_path)]
    if ref_path is not None:
        cmd += ["-i", str(ref_path)]
    cmd += ["-filter_complex", ";".join(graph)]
    cmd += ["-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "26", "-pix_fmt", "yuv420p"]
    comment = f"sorasim {spec.video_id}" + (f"; remix of {spec.remixed_from}" if spec.remixed_from else "")
    cmd += ["-metadata", f"title={spec.prompt[:200]}", "-metadata", f"comment={comment}"]
    cmd += ["-r", str(fps), "-t", f"{duration}", "-movflags", "+faststart", str(outdir / ASSETS["video"][0])]
    cmd += ["-map", "[thumb]", "-frames:v", "1", "-c:v", "libwebp", "-quality", "75", "-compression_level", "1"]
    cmd += [str(outdir / ASSETS["thumbnail"][0])]
    cmd += ["-map", "[sheet]", "-frames:v", "1", "-q:v", "4", str(outdir / ASSETS["spritesheet"][0])]
    return cmd


def pad_mp4(path, target_mb):
    """Grow an MP4 to about target_mb MiB with a top-level `free` box at its end: players skip it.

    The padding is a sparse hole (truncate), so even a large pad costs no writes.
    """
    current = path.stat().st_size
    target = int(target_mb * 1024 * 1024)
    box = target - current
    if box < 16:
        return
    with open(path, "r+b") as f:
        f.seek(current)
        if box < 2**32:
            f.write(struct.pack(">I4s", box, b"free"))
        else:
            f.write(struct.pack(">I4sQ", 1, b"free", box))
        f.truncate(target)


def assets_ready(job_dir):
    return all((job_dir / name).exists() for name, _ in ASSETS.values())


def _die_with_parent():
    """Pool workers end with the server even when it is killed outright (Linux; elsewhere a no-op)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def pillow_pool(workers):
    """Processes for the Pillow work: in a thread of the server it would hold the GIL in slices of up to 5 ms,
    which the event loop would feel as latency on every request arriving meanwhile."""
    return concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_die_with_parent
    )


async def render(spec, job_dir, semaphore, running, pool=None):
    """Encode the assets into job_dir (atomically: a temp folder renamed into place). `running` collects the
    live ffmpeg processes so shutdown can kill them; `pool` runs the Pillow work (a thread when None)."""
    job_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=".encode-", dir=job_dir))
    try:
        async with semaphore:
            prepare = asyncio.get_running_loop().run_in_executor(pool, _prepare_inputs, spec, workdir)
            card_path, ref_path = await prepare
            cmd = ffmpeg_command(spec, card_path, ref_path, workdir)
            proc = await asyncio.create_subprocess_exec(
                *cmd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            running.add(proc)
            try:
                try:  # encodes yield to the API: polls stay fast however many renders are encoding
                    os.setpriority(os.PRIO_PROCESS, proc.pid, 10)
                except OSError:
                    pass
                _, stderr = await proc.communicate()
            finally:
                running.discard(proc)
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
            if proc.returncode != 0:
                raise EncodeError(f"ffmpeg exited {proc.returncode}: {stderr.decode(errors='replace')[-500:]}")
        if spec.pad_mb:
            await asyncio.to_thread(pad_mp4, workdir / ASSETS["video"][0], spec.pad_mb)
        for name, _ in ASSETS.values():
            os.replace(workdir / name, job_dir / name)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
