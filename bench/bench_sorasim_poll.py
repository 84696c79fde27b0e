"""sorasim's retrieve latency with 50 pollers, each polling once a second, while renders encode.

Starts sorasim (real media by default, so ffmpeg keeps the CPU busy), gives each poller a job of its own and,
when that job completes, a new one, so encodes run for the whole measurement. Prints the latency of every
retrieve as the client saw it (median, p90, p99, max) and how much encoding happened meanwhile.

Target: median under 5 ms on this machine.

    .venv/bin/python bench/bench_sorasim_poll.py [--pollers 50] [--seconds 30] [--media real|fast] [--job-seconds 8]
"""

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

import httpx  # noqa: E402

from tests.fixtures.sorasim import API_KEY, start_sorasim  # noqa: E402

TARGET_MEDIAN_MS = 5.0


class Connection:
    """A bare keep-alive HTTP/1.1 GET over asyncio streams. The bench measures the server, so the client must
    cost next to nothing: httpx's async client spends milliseconds of CPU per request, and on a busy machine a
    CPU-starved client measures its own queueing, not sorasim."""

    def __init__(self, host, port, api_key):
        self.host, self.port, self.api_key = host, port, api_key
        self.reader = self.writer = None

    async def get(self, path):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {self.api_key}\r\n\r\n".encode()
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)[1])
        return status, await self.reader.readexactly(length)

    def close(self):
        if self.writer is not None:
            self.writer.close()


async def poller(api, conn, deadline, latencies, created, start_delay):
    """One poller: its own job, polled once a second; a new job whenever the last one is done."""
    await asyncio.sleep(start_delay)  # spread the pollers over the second, as independent clients would be
    video_id = None
    next_poll = time.monotonic()
    while time.monotonic() < deadline:
        if video_id is None:
            response = await api.post("/videos", data={"prompt": f"bench render {len(created)}", "seconds": "4"})
            response.raise_for_status()
            video_id = response.json()["id"]
            created.append(video_id)
        started = time.perf_counter()
        status, body = await conn.get(f"/v1/videos/{video_id}")
        latencies.append((time.perf_counter() - started) * 1000)
        assert status == 200, body
        if json.loads(body)["status"] in ("completed", "failed"):
            video_id = None
        next_poll += 1.0
        await asyncio.sleep(max(0.0, next_poll - time.monotonic()))
    conn.close()


async def run(api_url, pollers, seconds):
    latencies, created = [], []
    url = httpx.URL(api_url)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=60) as api:
        deadline = time.monotonic() + seconds
        await asyncio.gather(
            *(
                poller(api, Connection(url.host, url.port, API_KEY), deadline, latencies, created, random.uniform(0, 1))
                for _ in range(pollers)
            )
        )
    return latencies, created


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pollers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--media", choices=("real", "fast"), default="real")
    parser.add_argument("--job-seconds", type=float, default=8)
    args = parser.parse_args()

    sim_args = ("--media", args.media, "--job-seconds", str(args.job_seconds), "--api-key", API_KEY)
    with start_sorasim(*sim_args) as sim:
        cpu_before = os.times()
        wall_before = time.monotonic()
        latencies, created = asyncio.run(run(sim.api_url, args.pollers, args.seconds))
        wall = time.monotonic() - wall_before
        counters = sim.control.counters(API_KEY)
        lag = sim.control.health()["loop_lag"]  # the server's own view: how late its event loop woke up
        sim_pid = sim.proc.pid
        sim_cpu = _process_cpu_seconds(sim_pid)
    cpu_after = os.times()
    median = statistics.median(latencies)
    print(
        f"sorasim retrieve latency: {args.pollers} pollers x 1/s for {wall:.0f} s, media {args.media}, "
        f"job-seconds {args.job_seconds:g}, {os.cpu_count()} CPUs"
    )
    print(f"  retrieves       {len(latencies)}")
    print(
        f"  median          {median:.2f} ms   (target < {TARGET_MEDIAN_MS:g} ms: "
        f"{'met' if median < TARGET_MEDIAN_MS else 'MISSED'})"
    )
    print(f"  p90             {percentile(latencies, 0.90):.2f} ms")
    print(f"  p99             {percentile(latencies, 0.99):.2f} ms")
    print(f"  max             {max(latencies):.2f} ms")
    print(
        f"  renders created {len(created)}, completed meanwhile {counters['jobs_completed']} "
        f"(each a {args.media} 4 s 720x1280 encode)"
    )
    if lag:
        print(
            f"  server loop lag median {lag['median_ms']:.2f} ms, p99 {lag['p99_ms']:.2f} ms, "
            f"max {lag['max_ms']:.2f} ms (last minute)"
        )
    if sim_cpu is not None:
        print(f"  sorasim CPU     {sim_cpu:.1f} s (server process; ffmpeg children not included)")
    print(f"  bench client CPU {cpu_after.user - cpu_before.user + cpu_after.system - cpu_before.system:.1f} s")


def _process_cpu_seconds(pid):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


if __name__ == "__main__":
    main()
