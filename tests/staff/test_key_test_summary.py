"""A key test's result quotes the answer only as its HTTP status and a short, escaped summary: a key's base URL may
point at any server the worker reaches, and the key page must not show what that server says at length. A listener
answers with a long body holding a marker past the summary's length: the marker is on no page and in no stored
result (the test, the key's last error, a detection's findings)."""

import json

import pytest
from django.urls import reverse

from providers import detect, tasks
from providers.errors import SUMMARY_CHARS
from providers.models import ApiKey, KeyDetection, KeyTest

pytestmark = pytest.mark.django_db

MARKER = "MARKER-internal-9d41c7"
FILLER = "internal detail " * 40  # longer than a summary: the marker after it must never be kept


def long_error(status, code="upstream_failed"):
    message = f"<b>Upstream</b> said no. {FILLER}{MARKER}"
    return status, "application/json", json.dumps({"error": {"message": message, "code": code}}).encode()


ANSWERS = {
    "a 500 with a long JSON error": (long_error(500), KeyTest.Outcome.UNAVAILABLE),
    "a 401 with a long JSON error": (long_error(401, "invalid_api_key"), KeyTest.Outcome.INVALID_KEY),
    "a 418 with a long JSON error": (long_error(418), KeyTest.Outcome.ERROR),
    "a 400 whose body is one long JSON string": (
        (400, "application/json", json.dumps(f"{FILLER}{MARKER}").encode()), KeyTest.Outcome.ERROR),
    "a 200 page of HTML": ((200, "text/html", f"<html>{FILLER}{MARKER}</html>".encode()), KeyTest.Outcome.UNAVAILABLE),
    "a 200 list whose video id is long": (
        (200, "application/json", json.dumps({"object": "list", "data": [
            {"id": f"video_{'a' * 300}{MARKER}", "object": "video", "status": "completed", "model": "sora-2"}]
        }).encode()), KeyTest.Outcome.OK),
}


@pytest.mark.parametrize("answer", ANSWERS, ids=list(ANSWERS))
def test_the_page_and_the_stored_result_hold_no_remote_body(answer, staff_client, make_key, listener):
    (status, content_type, body), outcome = ANSWERS[answer]
    listener.answer = (status, content_type, body)
    key = make_key(base_url=listener.url)
    staff_client.post(reverse("staff_key_test", kwargs={"key_id": key.pk}))
    tasks.test_key(key.tests.first().pk)

    test = KeyTest.objects.get(key=key)
    assert listener.requests and test.outcome == outcome
    assert test.status_code == status
    key = ApiKey.objects.get(pk=key.pk)
    for stored in (test.message, test.request_id, key.last_error):
        assert MARKER not in stored and len(stored) < 2 * SUMMARY_CHARS + 100

    for headers in ({}, {"HX-Request": "true", "HX-Target": "key-test"}):
        page = staff_client.get(reverse("staff_key", kwargs={"key_id": key.pk}), headers=headers).content.decode()
        assert f'data-outcome="{outcome}"' in page
        assert MARKER not in page and "<b>Upstream</b>" not in page


def test_the_summary_keeps_the_status_the_code_and_the_start_of_the_message(staff_client, make_key, listener):
    listener.answer = long_error(500)
    key = make_key(base_url=listener.url)
    staff_client.post(reverse("staff_key_test", kwargs={"key_id": key.pk}))
    tasks.test_key(key.tests.first().pk)
    test = KeyTest.objects.get(key=key)
    assert test.status_code == 500
    assert test.message.startswith("The provider failed: <b>Upstream</b> said no. internal detail")
    assert "…" in test.message and "(code upstream_failed)" in test.message

    page = staff_client.get(reverse("staff_key", kwargs={"key_id": key.pk})).content.decode()
    assert "HTTP 500" in page and "&lt;b&gt;Upstream&lt;/b&gt; said no." in page


def test_a_detection_keeps_only_summaries(staff, make_key, listener):
    listener.answer = long_error(400)
    key = make_key(base_url=listener.url)
    detection = detect.run(KeyDetection.objects.create(key=key, requested_by=staff).pk)
    assert detection.findings and listener.requests
    assert not any(MARKER in line for line in detection.findings)
    assert all(len(line) < 2 * SUMMARY_CHARS + 100 for line in detection.findings)
