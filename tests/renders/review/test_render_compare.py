"""Compare a remix with its parent, side by side."""

import re

import pytest

from renders import actions
from renders.states import Status
from renders.views.render import word_diff
from tests.renders.review.conftest import page_text, url

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]


def test_it_shows_both_videos_and_what_changed(client, vera, done, review_render):
    child = review_render(Status.COMPLETED, remix_of=done, prompt="a red fox in deep night snow",
                        delivered_seconds="3.960", charged_usd="0.40")
    client.force_login(vera)
    response = client.get(url("render_compare", child))
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(rf'<video[^>]*data-compare src="{url("render_asset", done, variant="video")}"', html)
    assert "<del>fresh</del>" in html and "<ins>deep night</ins>" in html
    text = page_text(html)
    assert "Delivered changed 4.00 s 3.96 s" in text
    assert "Model sora-2 sora-2" in text


def test_a_render_that_is_no_remix_has_nothing_to_compare(client, vera, done):
    client.force_login(vera)
    assert "Nothing to compare" in page_text(client.get(url("render_compare", done)))


def test_a_deleted_parent_is_said_so(client, alice, done, review_render):
    child = review_render(Status.COMPLETED, remix_of=done)
    actions.delete(done, alice)
    client.force_login(alice)
    response = client.get(url("render_compare", child))
    assert "Parent deleted" in page_text(response)
    assert url("render_asset", done, variant="video") not in response.content.decode()


def test_an_outsider_gets_404(client, charlie, done, review_render):
    child = review_render(Status.COMPLETED, remix_of=done)
    client.force_login(charlie)
    assert client.get(url("render_compare", child)).status_code == 404


def test_word_diff_marks_removed_and_added_words():
    assert word_diff("a red fox in snow", "a grey fox in deep snow") == [
        ("same", "a"), ("del", "red"), ("ins", "grey"), ("same", "fox in"), ("ins", "deep"), ("same", "snow")]
    assert word_diff("same", "same") == [("same", "same")]
