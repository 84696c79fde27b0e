import pytest

from tests.fixtures.browser import login_with_form

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_signs_in_through_the_form(page, alice):
    login_with_form(page, "alice", "password")
    assert page.url.endswith("/")
    assert page.get_by_role("heading", name="Projects").is_visible()
    assert page.get_by_text("alice", exact=True).is_visible()


def test_a_wrong_password_says_so(page, alice):
    login_with_form(page, "alice", "wrong")
    assert page.get_by_role("alert").inner_text() == "Your username and password didn't match. Please try again."


def test_the_session_helper_signs_in_without_the_form(context_factory, alice):
    page = context_factory(alice).new_page()
    page.goto("/")
    assert page.get_by_role("heading", name="Projects").is_visible()
