"""What a real sorasim cannot produce (other providers' shapes, gateways, odd bodies): httpx.MockTransport,
the edge we do not own. Everything else is tested against sorasim over HTTP in test_client.py."""

import io

import httpx
import pytest

from providers.client import (
    IncompleteDownload,
    InvalidRequest,
    Moderated,
    OutcomeUnknown,
    OutOfCredit,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    VideoClient,
)

KEY = "sk-transport-DISTINCTIVE-0042"


def client_for(handler):
    return VideoClient("https://provider.example/v1", KEY, transport=httpx.MockTransport(handler), timeout=2)


def error(status, code=None, type_=None, message="nope", param=None, headers=None):
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return lambda request: httpx.Response(status, json=body, headers={"x-request-id": "req_x", **(headers or {})})


def test_it_tolerates_unknown_fields_statuses_and_numeric_seconds():
    video = {"id": "video_1", "object": "video", "status": "expired", "seconds": 8, "progress": None,
             "brand_new_field": {"x": 1}, "error": None}
    with client_for(lambda r: httpx.Response(200, json=video)) as client:
        got = client.retrieve("video_1")
    assert got.status == "expired" and got.is_terminal
    assert got.seconds == "8" and got.progress == 0
    assert got.raw["brand_new_field"] == {"x": 1}


@pytest.mark.parametrize("code", ["insufficient_quota", "credit_balance_exhausted", "billing_hard_limit_reached"])
def test_it_tells_an_empty_account_from_a_rate_limit(code):
    with client_for(error(429, code=code, type_="insufficient_quota")) as client:
        with pytest.raises(OutOfCredit) as caught:
            client.retrieve("video_1")
    assert not caught.value.retryable and caught.value.status == 429 and caught.value.request_id == "req_x"


@pytest.mark.parametrize(
    "headers, seconds",
    [({"retry-after-ms": "1500", "retry-after": "9"}, 1.5), ({"retry-after": "7"}, 7.0),
     ({"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}, None), ({}, None)],
)
def test_it_reads_the_wait_of_a_rate_limit(headers, seconds):
    with client_for(error(429, code="rate_limit_exceeded", type_="requests", headers=headers)) as client:
        with pytest.raises(RateLimited) as caught:
            client.list().__next__()
    assert caught.value.retry_after == seconds and caught.value.retryable


def test_it_reads_a_sync_moderation_refusal():
    with client_for(error(400, code="moderation_blocked", type_="invalid_request_error")) as client:
        with pytest.raises(Moderated):
            client.create(prompt="x")


def test_it_scrubs_an_echoed_key_from_messages():
    handler = error(401, code="invalid_api_key", message=f"Incorrect API key provided: {KEY}.")
    with client_for(handler) as client:
        with pytest.raises(ProviderError) as caught:
            client.retrieve("video_1")
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)
    assert "••••0042" in caught.value.message


def test_it_calls_a_gateway_timeout_on_create_an_unknown_outcome_and_never_retries():
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(504, text="<html>Gateway Time-out</html>")

    with client_for(handler) as client:
        with pytest.raises(OutcomeUnknown) as caught:
            client.create(prompt="x")
        assert caught.value.status == 504 and "HTTP 504" in str(caught.value)
        with pytest.raises(OutcomeUnknown):
            client.remix("video_1", "again")
        with pytest.raises(ProviderUnavailable):  # a GET behind the same gateway is simply unavailable
            client.retrieve("video_1")
    assert len(calls) == 3


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("closed"),
                                 httpx.ReadError("reset")])
def test_it_says_outcome_unknown_when_a_sent_create_gets_no_answer(exc):
    calls = []

    def handler(request):
        calls.append(request)
        raise exc

    with client_for(handler) as client:
        with pytest.raises(OutcomeUnknown) as caught:
            client.create(prompt="x")
        assert not caught.value.retryable
        with pytest.raises(OutcomeUnknown):
            client.remix("video_1", "again")
        with pytest.raises(ProviderUnavailable):  # the same on a GET is safe to repeat
            client.retrieve("video_1")
    assert len(calls) == 3


def test_it_treats_a_non_json_success_as_unavailable():
    with client_for(lambda r: httpx.Response(200, text="<html>maintenance</html>")) as client:
        with pytest.raises(ProviderUnavailable, match="not JSON"):
            client.retrieve("video_1")


def test_it_calls_a_redirect_an_error():
    with client_for(lambda r: httpx.Response(301, headers={"location": "https://elsewhere/"})) as client:
        with pytest.raises(ProviderError) as caught:
            client.retrieve("video_1")
    assert caught.value.status == 301 and not caught.value.retryable


def test_it_rejects_an_html_page_served_as_the_video():
    page = b"<html>" + b"x" * 200 + b"</html>"
    with client_for(lambda r: httpx.Response(200, content=page, headers={"content-type": "text/html"})) as client:
        with pytest.raises(IncompleteDownload, match="not a valid MP4"):
            client.download("video_1", io.BytesIO())


def test_it_quotes_the_video_id_into_the_path():
    seen = []

    def handler(request):
        seen.append(request.url.raw_path)
        return httpx.Response(200, json={"id": "x", "status": "completed"})

    with client_for(handler) as client:
        client.retrieve("../../admin?x=1")
    assert seen == [b"/v1/videos/..%2F..%2Fadmin%3Fx%3D1"]


def test_it_maps_an_invalid_request_with_its_param():
    with client_for(error(400, type_="invalid_request_error", param="seconds", message="Invalid type")) as client:
        with pytest.raises(InvalidRequest) as caught:
            client.create(prompt="x", seconds=8)
    assert caught.value.param == "seconds"


def test_it_stops_listing_when_a_provider_repeats_a_page():
    page = {"object": "list", "data": [{"id": "video_1", "status": "completed"}], "last_id": "video_1",
            "has_more": True}
    calls = []

    def handler(request):
        calls.append(request.url.params.get("after"))
        return httpx.Response(200, json=page)

    with client_for(handler) as client:
        assert [video.id for video in client.list()] == ["video_1", "video_1"]
    assert calls == [None, "video_1"]


@pytest.mark.parametrize("status, body", [(200, {"text": "{not json"}), (201, {"json": {"status": "queued"}})])
def test_it_calls_an_unreadable_create_answer_an_unknown_outcome(status, body):
    with client_for(lambda request: httpx.Response(status, **body)) as client:
        with pytest.raises(OutcomeUnknown, match="the job may exist"):
            client.create(prompt="x")
        with pytest.raises(OutcomeUnknown):
            client.remix("video_1", "x")
