"""--credit-usd / the key's credit: charged at the reference prices on accepted creates, refunded on failure,
429 insufficient_quota when a create would overdraw it, never overspent by concurrent creates."""

import concurrent.futures

import openai
import pytest

from tests.fixtures.waits import wait_video


@pytest.mark.parametrize(
    ("model", "size", "seconds", "price"),
    [
        ("sora-2", "720x1280", "4", 0.40),
        ("sora-2", "1280x720", "12", 1.20),
        ("sora-2-pro", "1280x720", "8", 2.40),
        ("sora-2-pro", "1792x1024", "12", 6.00),
        ("sora-2-pro-2025-10-06", "1024x1792", "4", 2.00),
    ],
)
def test_it_charges_the_reference_price(sim, key, client, model, size, seconds, price):
    sim.control.set_key(key, credit_usd=10)
    client.videos.create(prompt="priced", model=model, size=size, seconds=seconds)
    assert sim.control.key(key)["credit_usd"] == pytest.approx(10 - price, abs=1e-9)
    assert sim.control.counters(key)["charged_usd"] == pytest.approx(price, abs=1e-9)


def test_it_refuses_a_create_that_would_overdraw_with_insufficient_quota(sim, key, client):
    sim.control.set_key(key, credit_usd=0.5)
    client.videos.create(prompt="fits")
    with pytest.raises(openai.RateLimitError) as caught:
        client.videos.create(prompt="does not fit")
    error = caught.value
    assert error.status_code == 429
    assert error.code == "insufficient_quota" and error.type == "insufficient_quota"
    assert "retry-after" not in error.response.headers  # no point waiting: someone must top up
    counters = sim.control.counters(key)
    assert (counters["creates_attempted"], counters["creates_accepted"]) == (2, 1)
    assert sim.control.key(key)["credit_usd"] == pytest.approx(0.1)
    assert len(sim.control.videos(key)) == 1


def test_a_top_up_makes_creates_possible_again(sim, key, client):
    sim.control.set_key(key, credit_usd=0)
    with pytest.raises(openai.RateLimitError):
        client.videos.create(prompt="broke")
    assert sim.control.top_up(key, 0.4)["credit_usd"] == pytest.approx(0.4)
    client.videos.create(prompt="paid")
    assert sim.control.key(key)["credit_usd"] == 0


def test_a_failed_job_is_refunded(sim, key, client):
    sim.control.set_key(key, credit_usd=0.4)
    sim.control.patch_faults(job_seconds=10)  # moderation fails the job after 1 s: time to see the charge
    video = client.videos.create(prompt="forbidden words")
    assert sim.control.key(key)["credit_usd"] == 0
    assert wait_video(client, video.id).status == "failed"
    assert sim.control.key(key)["credit_usd"] == pytest.approx(0.4)
    counters = sim.control.counters(key)
    assert counters["charged_usd"] == counters["refunded_usd"] == pytest.approx(0.4)
    client.videos.create(prompt="and again")  # the refund is spendable


def test_concurrent_creates_never_overspend(sim, key):
    sim.control.set_key(key, credit_usd=2.0)  # five creates of 0.40
    client = sim.client(api_key=key)

    def create(i):
        try:
            return client.videos.create(prompt=f"race {i}").id
        except openai.RateLimitError as exc:
            return exc.code

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        results = list(pool.map(create, range(20)))
    accepted = [r for r in results if r.startswith("video_")]
    assert len(accepted) == 5
    assert results.count("insufficient_quota") == 15
    assert sim.control.key(key)["credit_usd"] == 0
    counters = sim.control.counters(key)
    assert counters["creates_attempted"] == 20 and counters["creates_accepted"] == 5
    assert counters["charged_usd"] == pytest.approx(2.0)
    assert counters["requests"] == {"POST /v1/videos 200": 5, "POST /v1/videos 429": 15}
    assert sorted(v["id"] for v in sim.control.videos(key)) == sorted(accepted)
