"""A crash while a key form is saved never puts the posted secrets on an error page or in an error email: the views
that receive secrets mark them sensitive, and Django's error reports (the technical 500 page, the admins' email)
show them as stars."""

import pytest
from django.core.signals import got_request_exception
from django.test import Client
from django.urls import reverse
from django.views.debug import SafeExceptionReporterFilter

from providers import keyadmin
from tests.staff.conftest import key_form

pytestmark = pytest.mark.django_db

SECRET = "sk-posted-then-crashed-7f3e"
WEBHOOK_SECRET = "whsec_Y3Jhc2hlZC13ZWJob29rLXNlY3JldC0wMQ=="


@pytest.fixture
def crashing_client(staff, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(keyadmin, "add_key", crash)
    monkeypatch.setattr(keyadmin, "update_key", crash)
    client = Client(raise_request_exception=False)
    client.force_login(staff)
    return client


@pytest.fixture
def crashed_requests():
    requests = []

    def keep(sender, request=None, **kwargs):
        requests.append(request)

    got_request_exception.connect(keep)
    yield requests
    got_request_exception.disconnect(keep)


@pytest.mark.parametrize("page", ["staff_key_add", "staff_key_edit"])
def test_the_error_report_shows_no_posted_secret(page, crashing_client, crashed_requests, key):
    url = reverse(page, kwargs={"key_id": key.pk} if page == "staff_key_edit" else {})
    response = crashing_client.post(url, key_form(secret=SECRET, webhook_secret=WEBHOOK_SECRET))
    assert response.status_code == 500 and len(crashed_requests) == 1
    reported = SafeExceptionReporterFilter().get_post_parameters(crashed_requests[0])
    assert reported["secret"] == reported["webhook_secret"] == SafeExceptionReporterFilter.cleansed_substitute
    assert reported["name"] == "Apifree"  # the rest of the post is still there to read
    assert SECRET not in response.content.decode()
