"""--rpm / the key's rpm: a rolling 60 s window per key, 429 rate_limit_exceeded with exact retry headers."""

import time

import openai
import pytest

from sorasim.sim import format_duration
from sorasim.state import KeyState


@pytest.mark.timing("a 60 s window: the requests of the test take a few seconds of it")
def test_it_answers_429_rate_limit_exceeded_with_exact_retry_headers(sim, key, client):
    sim.control.set_key(key, rpm=3)
    first_sent = time.time()
    responses = [client.videos.with_raw_response.list()]
    first_answered = time.time()
    responses += [client.videos.with_raw_response.list() for _ in range(2)]
    assert [r.headers["x-ratelimit-limit-requests"] for r in responses] == ["3", "3", "3"]
    assert [r.headers["x-ratelimit-remaining-requests"] for r in responses] == ["2", "1", "0"]
    before = time.time()
    with pytest.raises(openai.RateLimitError) as caught:
        client.videos.list()
    after = time.time()
    error = caught.value
    assert error.status_code == 429 and error.code == "rate_limit_exceeded" and error.type == "requests"
    headers = error.response.headers
    retry_ms = int(headers["retry-after-ms"])
    # the first slot frees 60 s after the first request was counted, which happened between send and answer
    assert 60_000 - (after - first_sent) * 1000 - 1 <= retry_ms <= 60_000 - (before - first_answered) * 1000 + 1
    assert int(headers["retry-after"]) == -(-retry_ms // 1000)
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"].endswith("s")
    counters = sim.control.counters(key)
    assert counters["requests"] == {"GET /v1/videos 200": 3, "GET /v1/videos 429": 1}
    assert sim.control.key(key)["requests_in_window"] == 3  # a refused request takes no slot


def test_the_limit_is_per_key(sim, key, client):
    sim.control.set_key(key, rpm=1)
    client.videos.list()
    with pytest.raises(openai.RateLimitError):
        client.videos.list()
    other = sim.control.set_key(f"{key}-b", rpm=1)["key"]
    sim.client(api_key=other).videos.list()


def test_a_create_over_the_limit_is_refused_and_not_billed(sim, key, client):
    sim.control.set_key(key, rpm=1)
    client.videos.create(prompt="one")
    with pytest.raises(openai.RateLimitError) as caught:
        client.videos.create(prompt="two")
    assert caught.value.code == "rate_limit_exceeded"
    counters = sim.control.counters(key)
    assert (counters["creates_attempted"], counters["creates_accepted"]) == (2, 1)


def test_raising_the_limit_at_runtime_lets_requests_through(sim, key, client):
    sim.control.set_key(key, rpm=1)
    client.videos.list()
    with pytest.raises(openai.RateLimitError):
        client.videos.list()
    sim.control.set_key(key, rpm=0)
    client.videos.list()


def test_the_window_rolls():
    state = KeyState(key="k", rpm=2)
    assert state.take_slot(100.0) is None
    assert state.take_slot(130.0) is None
    assert state.take_slot(159.0) == pytest.approx(1.0)  # the slot taken at 100 frees at 160
    assert state.take_slot(160.0) is None  # and now it has
    assert state.take_slot(170.0) == pytest.approx(20.0)  # next: the one taken at 130 frees at 190
    assert list(state.window) == [130.0, 160.0]


def test_durations_look_like_the_providers():
    assert format_duration(0.85) == "850ms"
    assert format_duration(12.5) == "12.5s"
    assert format_duration(360) == "6m0s"
    assert format_duration(61.25) == "1m1.25s"
