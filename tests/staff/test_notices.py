"""The banners of templates/staff/key_notices.html, on every page (base.html includes it)."""

import pytest
from django.urls import reverse

from renders.states import Status

pytestmark = pytest.mark.django_db

PAGES = ["project_list", "usage"]


@pytest.mark.parametrize("page", PAGES)
def test_staff_see_a_banner_for_a_key_out_of_credit_on_every_page(staff_client, key, page):
    key.mark_out_of_credit("insufficient_quota")
    body = staff_client.get(reverse(page)).content.decode()
    assert "Provider key “main” is out of credit" in body
    assert reverse("staff_key", kwargs={"key_id": key.pk}) in body


def test_the_banner_also_shows_on_staff_pages_and_goes_when_the_key_works(staff_client, key):
    key.mark_invalid("401")
    assert "Provider key “main” is invalid" in staff_client.get(reverse("staff_keys")).content.decode()
    key.reactivate()
    assert "Provider key “main”" not in staff_client.get(reverse("staff_keys")).content.decode()


def test_people_who_are_not_staff_see_no_key_banner(client, bob, key):
    key.mark_out_of_credit("insufficient_quota")
    client.force_login(bob)
    assert "Provider key" not in client.get(reverse("project_list")).content.decode()


@pytest.mark.parametrize("page", PAGES)
def test_the_author_of_a_waiting_render_sees_waiting_for_credit(client, alice, key, make_render, page):
    make_render(Status.WAITING)
    key.mark_out_of_credit("insufficient_quota")
    client.force_login(alice)
    body = client.get(reverse(page)).content.decode()
    assert "1 of your renders in Trailer is waiting for credit" in body


def test_an_invalid_key_is_a_wait_for_a_working_key(client, alice, key, make_render):
    make_render(Status.WAITING)
    key.mark_invalid("401")
    client.force_login(alice)
    assert "waiting for a working provider key" in client.get(reverse("usage")).content.decode()


def test_nobody_else_sees_the_authors_notice(client, bob, key, make_render):
    make_render(Status.WAITING)
    key.mark_out_of_credit("insufficient_quota")
    client.force_login(bob)
    assert "waiting for credit" not in client.get(reverse("usage")).content.decode()


def test_signed_out_pages_show_nothing(client, key):
    key.mark_out_of_credit("insufficient_quota")
    assert "Provider key" not in client.get(reverse("login")).content.decode()
