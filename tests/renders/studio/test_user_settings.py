"""GET/POST /settings/: the user's own choice of notification email."""

import pytest

from renders.models import NotificationSettings

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]


def test_it_turns_the_email_on_and_off(client, alice):
    client.force_login(alice)
    page = client.get("/settings/")
    assert page.status_code == 200 and b"Email me when one of my renders completes or fails" in page.content
    response = client.post("/settings/", {"email_on_finish": "on"})
    assert response.status_code == 302 and response["Location"] == "/settings/"
    settings_row = NotificationSettings.objects.get(user=alice)
    assert settings_row.email_on_finish is True
    client.post("/settings/", {})
    settings_row.refresh_from_db()
    assert settings_row.email_on_finish is False


def test_it_is_each_users_own(client, alice, bob):
    client.force_login(bob)
    client.post("/settings/", {"email_on_finish": "on"})
    assert list(NotificationSettings.objects.values_list("user__username", "email_on_finish")) == [("bob", True)]


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/settings/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
