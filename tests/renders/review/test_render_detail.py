"""The render page: player, downloads, prompt and settings, cost, timeline, failure reasons, role-aware actions,
lineage, the one live poll, and a constant number of queries."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from projects.models import Membership, Role
from providers.models import KeyState
from renders import lifecycle, pipeline
from renders.actions import cancel, delete
from renders.models import Comment, EventKind, Render
from renders.states import Status
from tests.renders.review.conftest import page_text, url

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]


def get(client, user, render, **query):
    client.force_login(user)
    return client.get(url("render_detail", render), query)


# --- who may see it ---------------------------------------------------------------------------------

def test_it_shows_a_completed_render_to_a_viewer(client, vera, done):
    response = get(client, vera, done)
    assert response.status_code == 200
    html = response.content.decode()
    video, thumb, sheet = (url("render_asset", done, variant=v) for v in ("video", "thumbnail", "spritesheet"))
    # the player: the video with the thumbnail as its poster; the scrubber reads the spritesheet
    assert re.search(rf'<video id="player"[^>]*src="{video}"[^>]*poster="{thumb}"', html, re.S)
    assert f'<img class="scrubber-sheet" src="{sheet}"' in html
    # a download link per asset, served as an attachment
    for asset in (video, thumb, sheet):
        assert f'href="{asset}?download=1"' in html
    text = page_text(response)
    assert "a red fox in fresh snow" in text and "sora-2" in text and "1280x720" in text
    assert "$0.40 for 4.0 s delivered" in text  # the charge, next to the estimate
    assert "Estimate $0.40 for 4 s" in text


def test_the_download_link_answers_with_an_attachment(client, vera, done):
    client.force_login(vera)
    response = client.get(url("render_asset", done, variant="spritesheet") + "?download=1")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")


def test_an_outsider_gets_404_and_a_visitor_the_sign_in_page(client, charlie, done, elsewhere):
    assert client.get(url("render_detail", done)).status_code == 302
    client.force_login(charlie)
    assert client.get(url("render_detail", done)).status_code == 404
    # their own project's id with another project's render: still nothing
    response = client.get(f"/projects/{elsewhere.pk}/renders/{done.pk}/")
    assert response.status_code == 404


def test_a_deleted_render_is_gone(client, alice, done):
    delete(done, alice)
    assert get(client, alice, done).status_code == 404


# --- the timeline ---------------------------------------------------------------------------------------

def test_the_timeline_tells_what_happened_in_plain_words(client, vera, submitted):
    render = submitted()
    lifecycle.mark_failed(render, "provider_unavailable", "503 Service Unavailable", source="poll", request_id="req_9")
    html = get(client, vera, render).content.decode()
    lines = [page_text(line) for line in re.findall(r'<p class="timeline-text">(.*?)</p>', html)]
    assert lines == ["Submitted by bob.", f"Failed: {lifecycle.plain_error('provider_unavailable')}"]
    details = page_text(" ".join(re.findall(r"<details class=\"timeline-details\".*?</details>", html, re.S)))
    assert "Submitted by bob: sora-2, 1280x720, 4 s." in details  # what the event said in full
    assert "found by checking with the provider" in details  # where the news came from
    assert "request req_9" in details  # the provider's request id, for support
    assert re.search(r'<li class="is-error">', html)


# --- failures -------------------------------------------------------------------------------------------

def failure_box(response):
    """The failure box: its text, and its HTML (for the try-again form)."""
    html = response.content.decode()
    match = re.search(r'<section class="alert [^"]*failure".*?</section>', html, re.S)
    assert match, "no failure box"
    return page_text(match.group(0)) + " " + match.group(0)


@pytest.mark.parametrize(("code", "provider_message", "title"), [
    ("moderation_blocked", "Your prompt was flagged.", "Blocked by the provider's safety system"),
    ("provider_unavailable", "502 Bad Gateway", "The provider is down"),
    ("expired", "", "Expired at the provider"),
])
def test_a_failed_render_says_why_and_offers_to_try_again(client, bob, submitted, code, provider_message, title):
    render = submitted()
    lifecycle.mark_failed(render, code, provider_message, source="worker")
    box = failure_box(get(client, bob, render))
    assert title in box
    render.refresh_from_db()
    assert render.error_message and render.error_message in box
    assert "Nothing was charged." in box
    assert f'action="{url("render_retry", render)}"' in box and "Try again" in box


def test_a_lost_create_that_may_have_been_billed_says_so_and_that_nothing_was_charged(client, bob, submitted):
    render = submitted()
    lifecycle.mark_failed(render, "outcome_unknown", source="reconciler", message=lifecycle.MAY_HAVE_BILLED)
    box = failure_box(get(client, bob, render))
    assert "The provider never confirmed the job" in box and "may have billed it" in box
    assert "Nothing was charged. Try again" in box and "Nothing was charged. Nothing" not in box


def test_a_render_that_found_only_keys_without_credit_says_out_of_credit(client, bob, submitted, key, settings):
    key.mark_out_of_credit("insufficient_quota")
    assert key.state == KeyState.OUT_OF_CREDIT
    render = submitted()
    pipeline.send_create(render.pk)  # no usable key: the render waits, saying why
    render.refresh_from_db()
    assert render.status == Status.WAITING
    settings.RENDER_MAX_KEY_WAIT_SECONDS = 0  # the wait ran out: the pipeline fails it as "no usable key"
    render.update_if(next_attempt_at=timezone.now(), heartbeat_at=None)
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    assert render.status == Status.FAILED and render.error_code == "no_usable_key"
    box = failure_box(get(client, bob, render))
    assert "Out of credit" in box and "tops it up" in box


def test_a_render_with_only_disabled_keys_says_no_usable_key(client, bob, submitted, key, settings):
    key.disable()
    render = submitted()
    settings.RENDER_MAX_KEY_WAIT_SECONDS = 0
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    assert render.error_code == "no_usable_key"
    box = failure_box(get(client, bob, render))
    assert "No usable provider key" in box and "Out of credit" not in box


def test_a_viewer_sees_why_but_cannot_try_again(client, vera, submitted):
    render = submitted()
    lifecycle.mark_failed(render, "moderation_blocked", "", source="worker")
    response = get(client, vera, render)
    assert "Blocked by the provider" in failure_box(response)
    assert url("render_retry", render) not in response.content.decode()


def test_a_canceled_render_says_who_canceled_it(client, bob, submitted):
    render = submitted()
    cancel(render, bob)
    box = failure_box(get(client, bob, render))
    assert "Canceled by bob." in box and "Try again" in box


# --- actions by role ------------------------------------------------------------------------------------

def actions(response):
    html = response.content.decode()
    return re.search(r'<div class="page-actions" id="render-actions".*?</div>', html, re.S).group(0)


def test_editors_see_delete_only_on_their_own_renders_and_owners_on_any(client, alice, bob, done, review_render):
    theirs = review_render(Status.COMPLETED, author=alice)
    assert url("render_delete", done) in actions(get(client, bob, done))
    assert url("render_delete", theirs) not in actions(get(client, bob, theirs))
    assert url("render_delete", done) in actions(get(client, alice, done))


def test_cancel_is_offered_only_before_the_create_is_sent(client, bob, submitted, review_render):
    waiting = submitted()
    assert url("render_cancel", waiting) in actions(get(client, bob, waiting))
    queued = review_render(Status.QUEUED)
    assert url("render_cancel", queued) not in actions(get(client, bob, queued))


def test_a_viewer_gets_neither_remix_nor_delete(client, vera, done):
    html = get(client, vera, done).content.decode()
    assert url("render_remix", done) not in html
    assert url("render_delete", done) not in html
    assert url("render_comment", done) in html  # but may comment


def test_remix_is_offered_only_where_the_key_supports_it(client, bob, done, key):
    assert url("render_remix", done) in get(client, bob, done).content.decode()
    key.can_remix_endpoint = key.can_remix_by_create = False
    key.save()
    response = get(client, bob, done)
    assert url("render_remix", done) not in response.content.decode()
    assert "does not support remixes" in page_text(response)


def test_an_archived_project_is_read_only_here(client, alice, done):
    project = done.project
    project.archived_at = timezone.now()
    project.save()
    html = get(client, alice, done).content.decode()
    for name in ("render_remix", "render_delete", "render_comment"):
        assert url(name, done) not in html


# --- lineage ---------------------------------------------------------------------------------------------

def test_the_lineage_shows_ancestors_and_descendants_with_status_and_cost(client, alice, bob, done, review_render):
    child = review_render(Status.COMPLETED, remix_of=done, prompt="the fox at night", charged_usd="0.40")
    grandchild = review_render(Status.IN_PROGRESS, remix_of=child, prompt="the fox at night, in rain", progress=30)
    failed = review_render(Status.FAILED, remix_of=done, prompt="the fox in space", charged_usd="0")
    response = get(client, alice, child)
    html = response.content.decode()
    lineage = " ".join(re.search(r'<section class="card" id="lineage".*?</section>', html, re.S).group(0).split())
    lineage_text = page_text(lineage)
    # ancestors as a breadcrumb
    assert f'<a href="{url("render_detail", done)}"' in lineage and f"#{child.pk} (this render)" in lineage_text
    # descendants with status and cost; siblings are not descendants
    assert f"#{grandchild.pk}</a> <span class=\"badge badge-in_progress\">In progress</span>" in lineage
    assert f"#{failed.pk}" not in lineage_text
    assert f'aria-label="Progress of render #{grandchild.pk}"' in lineage
    # from the root: the whole tree, with branch costs
    root_html = " ".join(get(client, alice, done).content.decode().split())
    root = page_text(root_html)
    assert f"#{failed.pk}</a> <span class=\"badge badge-failed\">Failed</span>" in root_html
    assert "branch $0.40 over 2 + $0.40 in flight" in root  # child (0.40 charged) + grandchild (0.40 reserved)
    assert "with its remixes: $0.80 charged over 4 renders + $0.40 in flight" in root


def test_a_deleted_parent_shows_as_parent_deleted(client, alice, done, review_render):
    child = review_render(Status.COMPLETED, remix_of=done)
    delete(done, alice)
    response = get(client, alice, child)
    assert f"#{done.pk} (parent deleted)" in page_text(response)
    assert f'href="{url("render_detail", done)}"' not in response.content.decode()


def test_descendant_thumbnails_come_through_the_asset_view(client, alice, done, review_render):
    child = review_render(Status.COMPLETED, remix_of=done)
    child.thumbnail.save("thumbnail.webp", done.thumbnail.file, save=True)
    html = get(client, alice, done).content.decode()
    assert f'<img src="{url("render_asset", child, variant="thumbnail")}"' in html


# --- the one live poll -----------------------------------------------------------------------------------

def poller(html):
    return re.search(r'<div id="render-live"[^>]*>', html).group(0)


def test_an_in_flight_render_carries_one_poll_and_a_progress_bar(client, bob, review_render):
    render = review_render(Status.IN_PROGRESS, progress=42)
    html = get(client, bob, render).content.decode()
    # the page's one poll, beside the every-page poll of the base template
    assert html.count("data-poll=") == 2 and 'data-poll="2"' in poller(html)
    assert 'hx-trigger="poll"' in poller(html) and "shown=in_progress" in poller(html)
    assert '<progress id="render-progress" value="42" max="100"' in html


def test_a_final_render_with_nothing_in_flight_below_has_no_poll(client, bob, done, review_render):
    review_render(Status.COMPLETED, remix_of=done)
    assert "data-poll" not in poller(get(client, bob, done).content.decode())


def test_a_final_render_polls_while_a_remix_is_in_flight(client, bob, done, review_render):
    review_render(Status.QUEUED, remix_of=done)
    assert "data-poll" in poller(get(client, bob, done).content.decode())


def test_the_poll_answers_with_out_of_band_pieces(client, bob, review_render):
    render = review_render(Status.IN_PROGRESS, progress=10)
    render.update_if(progress=64)
    client.force_login(bob)
    response = client.get(url("render_detail", render), {"live": "1", "shown": "in_progress"},
                          headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    for piece in ("render-live", "render-status", "render-actions", "timeline", "lineage"):
        assert re.search(rf'id="{piece}"[^>]*hx-swap-oob="true"', html), piece
    assert 'value="64"' in html
    assert "data-poll" in poller(html)


def test_the_poll_reloads_the_page_once_the_render_is_final(client, bob, review_render):
    render = review_render(Status.DOWNLOADING, progress=100)
    client.force_login(bob)
    query = {"live": "1", "shown": "downloading"}
    assert "HX-Refresh" not in client.get(url("render_detail", render), query, headers={"HX-Request": "true"})
    lifecycle.complete_render(render, "4.0")
    response = client.get(url("render_detail", render), query, headers={"HX-Request": "true"})
    assert response["HX-Refresh"] == "true"


def test_the_poll_stops_when_the_last_remix_finishes(client, bob, done, review_render):
    child = review_render(Status.IN_PROGRESS, remix_of=done)
    client.force_login(bob)
    query = {"live": "1", "shown": "completed"}
    assert "data-poll" in poller(client.get(url("render_detail", done), query, headers={"HX-Request": "true"})
                                 .content.decode())
    Render.objects.filter(pk=child.pk).update(status=Status.COMPLETED)
    html = client.get(url("render_detail", done), query, headers={"HX-Request": "true"}).content.decode()
    assert "data-poll" not in poller(html)
    assert 'class="badge badge-completed"' in html


# --- queries -------------------------------------------------------------------------------------------

def grow(render, review_render, alice, depth, width, comments, events):
    """A chain of `depth` remixes below `render`; on the last one, `width` remixes in flight, comments and events.
    Returns the last one (it has depth ancestors and width descendants)."""
    parent = render
    for _ in range(depth):
        parent = review_render(Status.COMPLETED, remix_of=parent)
    for _ in range(width):
        review_render(Status.IN_PROGRESS, remix_of=parent)
    for i in range(comments):
        Comment.post(parent, alice, f"note {i}")
    for i in range(events):
        parent.note(EventKind.NOTE, f"event {i}")
    return parent


def count_queries(client, user, render):
    client.force_login(user)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url("render_detail", render))
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_page_costs_the_same_queries_for_a_small_and_a_large_family(client, alice, done, review_render):
    small = grow(done, review_render, alice, depth=1, width=1, comments=1, events=1)
    other = review_render(Status.COMPLETED)
    large = grow(other, review_render, alice, depth=12, width=15, comments=25, events=30)
    assert count_queries(client, alice, small) == count_queries(client, alice, large)


def test_a_member_added_later_sees_the_page_too(client, done, django_user_model):
    late = django_user_model.objects.create_user("late", "late@example.org", "password")
    Membership.objects.create(project=done.project, user=late, role=Role.VIEWER)
    assert get(client, late, done).status_code == 200


# --- the favourite star (the studio's, reused) ------------------------------------------------------------

def test_the_star_is_the_studios_and_comes_back_to_this_page(client, vera, done):
    client.force_login(vera)
    html = client.get(url("render_detail", done)).content.decode()
    star = re.search(r'<form class="inline star-form".*?</form>', html, re.S).group(0)
    assert f'action="{url("render_favourite", done)}"' in star and 'aria-pressed="false"' in star
    response = client.post(url("render_favourite", done), {"favourite": "1", "next": url("render_detail", done)})
    assert response.status_code == 302 and response["Location"] == url("render_detail", done)
    html = client.get(url("render_detail", done)).content.decode()
    assert 'aria-pressed="true"' in re.search(r'<form class="inline star-form".*?</form>', html, re.S).group(0)
