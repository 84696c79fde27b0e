import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from providers.client import OutOfCredit, VideoClient
from providers.models import ApiKey, KeyState


def make_key(**fields):
    key = ApiKey(name="k", base_url="http://127.0.0.1:1/v1", **fields)
    key.secret = "sk-test-models-5678"
    key.save()
    return key


@pytest.mark.django_db
def test_it_builds_a_client_with_the_decrypted_key_and_setting_timeouts(settings):
    settings.PROVIDER_TIMEOUT_SECONDS = 2
    settings.PROVIDER_CONNECT_TIMEOUT_SECONDS = 1
    key = make_key()
    with key.client() as client:
        assert isinstance(client, VideoClient)
        assert client.base_url == "http://127.0.0.1:1/v1"
        assert client._http.headers["authorization"] == "Bearer sk-test-models-5678"
        assert client._http.timeout.read == 2 and client._http.timeout.connect == 1
        assert "sk-test-models-5678" not in repr(client)


@pytest.mark.django_db
def test_it_marks_out_of_credit_once():
    key = make_key()
    error = OutOfCredit("You exceeded your current quota", status=429, code="insufficient_quota",
                        request_id="req_1")
    assert key.mark_out_of_credit(error) is True
    assert key.state == KeyState.OUT_OF_CREDIT
    assert "OutOfCredit: You exceeded your current quota" in key.last_error
    assert "req_1" in key.last_error
    assert key.last_error_at is not None
    assert ApiKey.objects.get(pk=key.pk).mark_out_of_credit(error) is False  # same incident: no second notice
    assert not key.takes_new_work


@pytest.mark.django_db(transaction=True)
def test_it_reports_one_incident_to_concurrent_workers():
    key = make_key()
    barrier = threading.Barrier(8)

    def worker(_):
        try:
            barrier.wait()
            return ApiKey.objects.get(pk=key.pk).mark_invalid("401")
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(worker, range(8))) == [False] * 7 + [True]
    key.refresh_from_db()
    assert key.state == KeyState.INVALID


@pytest.mark.django_db
def test_it_does_not_mark_a_disabled_key():
    key = make_key(state=KeyState.DISABLED)
    assert not key.mark_out_of_credit("insufficient_quota")
    assert not key.mark_invalid("401")
    key.refresh_from_db()
    assert key.state == KeyState.DISABLED


@pytest.mark.django_db
def test_it_reactivates_and_drains():
    key = make_key()
    key.mark_invalid("401")
    assert key.reactivate() and key.state == KeyState.ACTIVE and key.takes_new_work
    assert not key.reactivate()  # already active
    assert key.drain() and key.state == KeyState.DRAINING and not key.takes_new_work
    assert key.disable() and key.state == KeyState.DISABLED


@pytest.mark.django_db
def test_it_records_an_error_without_changing_state():
    key = make_key()
    key.record_error(ValueError("boom"))
    key.refresh_from_db()
    assert key.last_error == "ValueError: boom" and key.state == KeyState.ACTIVE


@pytest.mark.django_db
def test_it_says_how_the_key_remixes():
    assert make_key().remix_by == "endpoint"
    assert make_key(can_remix_endpoint=False, can_remix_by_create=True).remix_by == "create"
    assert make_key(can_remix_endpoint=False).remix_by is None
