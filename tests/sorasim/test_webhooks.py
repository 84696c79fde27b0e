"""Signed webhooks: what the official SDK's `webhooks.unwrap` accepts, what it rejects, retries and give-ups."""

import json

import openai
import pytest

from tests.fixtures.sorasim import DEFAULT_ARGS, WEBHOOK_SECRET, start_sorasim
from tests.fixtures.waits import eventually, wait_video
from tests.sorasim.conftest import Receiver


@pytest.fixture
def hooked(sim, key, receiver):
    sim.control.set_key(key, webhook_urls=[receiver.url])
    return receiver


def unwrap(client, delivery, secret=WEBHOOK_SECRET):
    headers, body, _ = delivery
    return client.webhooks.unwrap(body, headers, secret=secret)


def test_it_posts_signed_completed_and_failed_events_that_unwrap_accepts(sim, key, client, hooked):
    done = wait_video(client, client.videos.create(prompt="hello hooks").id)
    failed = wait_video(client, client.videos.create(prompt="forbidden hooks").id)
    deliveries = hooked.wait(2)
    events = {}
    for delivery in deliveries:
        event = unwrap(client, delivery)
        events[event.data.id] = event
        headers = delivery[0]
        assert headers["webhook-id"].startswith("wh_")
        assert headers["content-type"] == "application/json"
        assert headers["webhook-signature"].startswith("v1,")
    assert events[done.id].type == "video.completed"
    assert events[failed.id].type == "video.failed"
    body = json.loads(deliveries[0][1])
    assert set(body) == {"id", "object", "created_at", "type", "data"}
    assert body["object"] == "event" and body["id"].startswith("evt_")
    eventually(lambda: sim.control.counters(key)["webhooks_delivered"] == 2)
    assert sim.control.counters(key)["webhooks_sent"] == 2


def test_unwrap_rejects_a_tampered_delivery_and_a_wrong_secret(client, hooked):
    wait_video(client, client.videos.create(prompt="tamper").id)
    headers, body, at = hooked.wait(1)[0]
    tampered = body.replace(b"video.completed", b"video.failed")
    with pytest.raises(openai.InvalidWebhookSignatureError):
        client.webhooks.unwrap(tampered, headers, secret=WEBHOOK_SECRET)
    with pytest.raises(openai.InvalidWebhookSignatureError):
        client.webhooks.unwrap(body, {**headers, "webhook-id": "wh_other"}, secret=WEBHOOK_SECRET)
    with pytest.raises(openai.InvalidWebhookSignatureError):
        client.webhooks.unwrap(body, headers, secret="whsec_" + "A" * 40)
    assert unwrap(client, (headers, body, at)).type == "video.completed"


def test_it_retries_a_failing_endpoint_with_the_same_id_and_fresh_signatures(sim, key, client, hooked):
    hooked.statuses = [500, 503, 500, 502]  # 0.2, 0.4, 0.8, 1.6 s backoff: the last try is seconds later
    video = wait_video(client, client.videos.create(prompt="retry me").id)
    deliveries = hooked.wait(5)
    assert len({d[0]["webhook-id"] for d in deliveries}) == 1
    assert len({d[1] for d in deliveries}) == 1  # the same body every time
    stamps = [int(d[0]["webhook-timestamp"]) for d in deliveries]
    assert stamps == sorted(stamps) and stamps[-1] > stamps[0]  # signed afresh, not replayed
    for delivery in deliveries:
        assert unwrap(client, delivery).data.id == video.id
        # signed when sent, far inside a receiver's 300 s window (what reaches us late still is fresh)
        assert abs(int(delivery[0]["webhook-timestamp"]) - delivery[2]) <= 30
    gaps = [b[2] - a[2] for a, b in zip(deliveries, deliveries[1:], strict=False)]
    # exponential backoff: each retry waited at least its doubled delay (load only lengthens a gap)
    assert all(gap >= 0.2 * 2**n - 0.01 for n, gap in enumerate(gaps)), gaps
    eventually(lambda: sim.control.counters(key)["webhooks_delivered"] == 1)
    assert sim.control.counters(key)["webhooks_sent"] == 5
    assert sim.control.video(video.id)["webhooks"][0]["state"] == "delivered"


def test_each_key_posts_to_its_own_endpoints(sim, key, client, receiver):
    second = Receiver()
    try:
        other = sim.control.set_key(f"{key}-2", webhook_urls=[second.url])["key"]
        sim.control.set_key(key, webhook_urls=[receiver.url, second.url])
        mine = wait_video(client, client.videos.create(prompt="mine").id)
        theirs = wait_video(sim.client(api_key=other), sim.client(api_key=other).videos.create(prompt="theirs").id)
        first_seen = receiver.wait(1)
        both = second.wait(2)
        assert [json.loads(d[1])["data"]["id"] for d in first_seen] == [mine.id]
        assert sorted(json.loads(d[1])["data"]["id"] for d in both) == sorted([mine.id, theirs.id])
        mine_twice = [first_seen[0]] + [d for d in both if json.loads(d[1])["data"]["id"] == mine.id]
        assert mine_twice[0][0]["webhook-id"] == mine_twice[1][0]["webhook-id"]  # one message, two endpoints
    finally:
        second.close()


def test_a_key_secret_can_be_rotated_at_runtime(sim, key, client, hooked):
    secret = "whsec_" + "c2Vjb25kLXNlY3JldC1mb3Itcm90YXRpb24="
    sim.control.set_key(key, webhook_secret=secret)
    wait_video(client, client.videos.create(prompt="rotated").id)
    delivery = hooked.wait(1)[0]
    assert unwrap(client, delivery, secret=secret).type == "video.completed"
    with pytest.raises(openai.InvalidWebhookSignatureError):
        unwrap(client, delivery)


@pytest.mark.slow(25)
@pytest.mark.timing("the retry lands 18 s inside the 20 s retry time")
def test_it_retries_a_slow_endpoint_and_gives_up_after_the_retry_time():
    receiver = Receiver()
    try:
        # the first answer comes long after the 1 s attempt timeout, the retry 0.2 s after that timeout is well
        # inside the 20 s retry time (18 s of margin for a slow machine), and so is the closed port's third try
        # (0, 0.2, 0.6, 1.4, 3, 6.2, 12.6 s: then given up)
        receiver.delays = [60]
        with start_sorasim(
            *DEFAULT_ARGS,
            "--job-seconds",
            "0.2",
            "--webhook-timeout",
            "1",
            "--webhook-retry-seconds",
            "20",
            "--webhook-url",
            receiver.url,
            "--webhook-url",
            "http://127.0.0.1:9/closed",
        ) as sim:
            client = sim.client()
            video = wait_video(client, client.videos.create(prompt="slow endpoint").id)
            deliveries = receiver.wait(2)
            assert deliveries[0][0]["webhook-id"] == deliveries[1][0]["webhook-id"]

            def settled():
                states = {d["url"]: d["state"] for d in sim.control.video(video.id)["webhooks"]}
                return states == {receiver.url: "delivered", "http://127.0.0.1:9/closed": "failed"}

            eventually(settled, timeout=90)
            counters = sim.control.counters("sk-test-1")
            assert counters["webhooks_delivered"] == 1 and counters["webhooks_failed"] == 1
            assert counters["webhooks_sent"] >= 2 + 3  # the closed port was tried at 0, 0.2, 0.6 s and more
    finally:
        receiver.close()
