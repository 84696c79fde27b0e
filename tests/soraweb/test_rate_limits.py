"""Rate limits on our own write endpoints (soraweb.ratelimits): the studio's submit, remix and retry (one limit),
review comments and invitations. Past the limit a write answers 429 with a readable message and Retry-After, and
is not made; the window ends and writes work again; the limit is per user; and authorization runs first, so
outsiders still get 404 and members without the role 403."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from projects.models import Invitation
from renders.models import Comment, Render
from renders.states import Status
from soraweb import ratelimits
from soraweb.models import RateCounter

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]

GOOD = {"prompt": "Wide shot: a red fox trots across fresh snow", "model": "sora-2", "size": "1280x720", "seconds": "4"}
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def clock(monkeypatch):
    """Time the test moves: clock(seconds) is that long after the test began."""
    start = timezone.now()
    at = {"now": start}
    monkeypatch.setattr("django.utils.timezone.now", lambda: at["now"])

    def move(seconds):
        at["now"] = start + timedelta(seconds=seconds)

    return move


@pytest.fixture
def limits(settings):
    settings.RATE_LIMIT_SUBMITS_PER_MINUTE = 2
    settings.RATE_LIMIT_COMMENTS_PER_MINUTE = 2
    settings.RATE_LIMIT_INVITATIONS_PER_HOUR = 2
    # the quotas are not what these tests are about
    settings.QUOTA_DEFAULT_MONTHLY_SECONDS = None
    settings.QUOTA_DEFAULT_MONTHLY_SPEND_USD = None
    settings.QUOTA_DEFAULT_CONCURRENT_RENDERS = None
    return settings


@pytest.fixture
def done(make_render, bob):
    render = make_render(Status.COMPLETED, author=bob, size="1280x720", progress=100)
    render.thumbnail.save("thumbnail.webp", ContentFile(b"RIFF\x00\x00\x00\x00WEBPVP8 "), save=True)
    return render


def _refused(response, what, seconds, wait=None):
    assert response.status_code == 429
    assert response["Retry-After"] == str(seconds)
    html = response.content.decode()
    assert f"Too many {what}" in html and f"Try again in {wait or f'{seconds} seconds'}." in html


# --- the counter --------------------------------------------------------------------------------------------

def test_it_counts_a_fixed_window_per_key(limits, clock, alice, bob):
    clock(0)
    assert ratelimits.count("submit", alice) is None
    clock(10)
    assert ratelimits.count("submit", alice) is None
    clock(15)
    refused = ratelimits.count("submit", alice)
    assert refused.retry_after == 45 and refused.message == (
        "Too many submissions: 2 a minute at most. Try again in 45 seconds.")
    assert ratelimits.count("submit", bob) is None  # per user
    assert ratelimits.count("comment", alice) is None  # per limit
    assert RateCounter.objects.get(key=f"submit:user:{alice.pk}").hits == 2  # a refusal is not counted
    clock(60)  # the window began with the first hit
    assert ratelimits.count("submit", alice) is None
    assert RateCounter.objects.get(key=f"submit:user:{alice.pk}").hits == 1


def test_a_limit_set_to_none_is_off(limits, alice):
    limits.RATE_LIMIT_SUBMITS_PER_MINUTE = None
    assert all(ratelimits.count("submit", alice) is None for _ in range(5))
    assert not RateCounter.objects.exists()


def test_windows_long_over_are_pruned_when_a_new_key_counts(limits, clock, alice, bob):
    clock(0)
    ratelimits.count("submit", alice)
    clock(2 * 3600)
    ratelimits.count("submit", bob)
    assert list(RateCounter.objects.values_list("key", flat=True)) == [f"submit:user:{bob.pk}"]


# --- submit: the studio, remix and retry share one limit -----------------------------------------------------

def test_the_studio_submit_answers_429_past_the_limit_and_works_again_after(limits, clock, client, bob, project):
    client.force_login(bob)
    clock(0)
    for _ in range(2):
        assert client.post(f"/projects/{project.pk}/", GOOD).status_code == 302
    clock(20)
    response = client.post(f"/projects/{project.pk}/", GOOD)
    _refused(response, "submissions", 40)
    assert "Slow down" in response.content.decode()  # the small page, for a plain form post
    assert Render.objects.count() == 2
    clock(61)
    assert client.post(f"/projects/{project.pk}/", GOOD).status_code == 302
    assert Render.objects.count() == 3


def test_with_htmx_the_refusal_shows_in_the_form_with_the_prompt_kept(limits, clock, client, bob, project):
    client.force_login(bob)
    clock(0)
    for _ in range(2):
        client.post(f"/projects/{project.pk}/", GOOD, **HTMX)
    response = client.post(f"/projects/{project.pk}/", {**GOOD, "prompt": "A third fox"}, **HTMX)
    _refused(response, "submissions", 60)
    html = response.content.decode()
    assert html.lstrip().startswith('<form id="submit-form"')
    assert '<ul class="errorlist nonfield" role="alert"><li>Too many submissions' in html
    assert "A third fox</textarea>" in html
    assert Render.objects.count() == 2


def test_remix_and_retry_count_as_submits(limits, clock, client, bob, project, done):
    client.force_login(bob)
    clock(0)
    client.post(f"/projects/{project.pk}/", GOOD)
    client.post(f"/projects/{project.pk}/renders/{done.pk}/retry/")  # refused (completed), yet a write asked
    _refused(client.post(f"/projects/{project.pk}/renders/{done.pk}/remix/", {"prompt": "At night"}),
             "submissions", 60)
    _refused(client.post(f"/projects/{project.pk}/renders/{done.pk}/retry/"), "submissions", 60)
    clock(60)
    assert client.post(f"/projects/{project.pk}/renders/{done.pk}/remix/", {"prompt": "At night"}).status_code != 429
    assert client.post(f"/projects/{project.pk}/renders/{done.pk}/retry/").status_code != 429


def test_the_limit_is_per_user(limits, clock, client, alice, bob, project):
    clock(0)
    client.force_login(bob)
    for _ in range(2):
        client.post(f"/projects/{project.pk}/", GOOD)
    assert client.post(f"/projects/{project.pk}/", GOOD).status_code == 429
    client.force_login(alice)
    assert client.post(f"/projects/{project.pk}/", GOOD).status_code == 302


def test_past_the_limit_outsiders_still_get_404_and_viewers_403(limits, clock, client, charlie, vera, project, done):
    clock(0)
    for user in (charlie, vera):
        for _ in range(2):
            ratelimits.count("submit", user)
            ratelimits.count("comment", user)
            ratelimits.count("invite", user)
    client.force_login(charlie)
    assert client.post(f"/projects/{project.pk}/", GOOD).status_code == 404
    assert client.post(f"/projects/{project.pk}/renders/{done.pk}/remix/", {"prompt": "x"}).status_code == 404
    assert client.post(f"/projects/{project.pk}/renders/{done.pk}/retry/").status_code == 404
    assert client.post(f"/projects/{project.pk}/renders/{done.pk}/comments/", {"body": "hi"}).status_code == 404
    assert client.post(f"/projects/{project.pk}/members/invite/",
                       {"email": "x@example.org", "role": "viewer"}).status_code == 404
    client.force_login(vera)
    assert client.post(f"/projects/{project.pk}/", GOOD).status_code == 403
    assert client.post(f"/projects/{project.pk}/renders/{done.pk}/remix/", {"prompt": "x"}).status_code == 403
    assert client.post(f"/projects/{project.pk}/renders/{done.pk}/retry/").status_code == 403
    assert client.post(f"/projects/{project.pk}/members/invite/",
                       {"email": "x@example.org", "role": "viewer"}).status_code == 403
    # a viewer may comment: her limit applies
    assert client.post(f"/projects/{project.pk}/renders/{done.pk}/comments/", {"body": "hi"}).status_code == 429


# --- comments -----------------------------------------------------------------------------------------------

def test_comments_answer_429_past_the_limit_and_work_again_after(limits, clock, client, vera, project, done):
    client.force_login(vera)
    url = f"/projects/{project.pk}/renders/{done.pk}/comments/"
    clock(0)
    for n in range(2):
        assert client.post(url, {"body": f"Note {n}"}).status_code == 302
    clock(30)
    _refused(client.post(url, {"body": "Note 2"}), "comments", 30)
    # with htmx, the thread comes back with the text typed and the message above the form
    response = client.post(url, {"body": "Note 2"}, **HTMX)
    _refused(response, "comments", 30)
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="comments"') and "Note 2</textarea>" in html
    assert Comment.objects.count() == 2
    clock(60)
    assert client.post(url, {"body": "Note 2"}).status_code == 302
    assert Comment.objects.count() == 3


# --- invitations --------------------------------------------------------------------------------------------

def test_invitations_answer_429_past_the_limit_and_work_again_after(limits, clock, client, alice, project):
    client.force_login(alice)
    url = f"/projects/{project.pk}/members/invite/"
    clock(0)
    for n in range(2):
        assert client.post(url, {"email": f"guest{n}@example.org", "role": "viewer"}).status_code == 302
    clock(600)
    _refused(client.post(url, {"email": "guest2@example.org", "role": "viewer"}), "invitations", 3000, "50 minutes")
    assert Invitation.objects.count() == 2
    clock(3600)
    assert client.post(url, {"email": "guest2@example.org", "role": "viewer"}).status_code == 302
    assert Invitation.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_writes_never_take_more_than_the_limit(limits):
    # each thread has a connection of its own, as web processes do; all start at once on a key that has no row yet
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connection

    barrier = Barrier(8)

    def one():
        barrier.wait()
        try:
            return ratelimits.hit("submit:user:race", 5, timedelta(seconds=60)) is None
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        counted = list(pool.map(lambda _: one(), range(8)))
    assert counted.count(True) == 5
    assert RateCounter.objects.get(key="submit:user:race").hits == 5
