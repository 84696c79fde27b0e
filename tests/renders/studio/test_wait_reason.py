"""A render held by its key's rate limit says why, on its card (the studio page and the in-flight poll): "Waiting for
the provider’s rate limit, next try in 20 s", not a bare "Storing" for minutes. The wait is the one the pipeline
records (the key paused until the provider's retry-after, the render's next attempt)."""

import re

import pytest
from django.utils import timezone

from providers.errors import RateLimited
from renders import pipeline
from renders.models import Render
from renders.states import Status
from tests.renders.studio.conftest import make_renders

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor"})]

WAIT = re.compile(r"Waiting for the provider’s rate limit, next try in (\d+) s\.")


def seconds_shown(html):
    match = WAIT.search(html)
    assert match, html[html.find("render-card"):][:2000]
    return int(match.group(1))


def test_a_download_held_by_a_rate_limit_says_why_and_when(client, alice, project, key):
    render, = make_renders(project, [alice], 1, statuses=(Status.DOWNLOADING,), api_key=key,
                           provider_video_id="video_1")
    render = Render.objects.select_related("api_key").get(pk=render.pk)
    pipeline.download_failed(render, RateLimited("Too many requests", retry_after=20))
    render.refresh_from_db()
    assert render.status == Status.DOWNLOADING and render.next_attempt_at > timezone.now()
    client.force_login(alice)

    page = client.get(f"/projects/{project.pk}/").content.decode()
    assert 15 <= seconds_shown(page) <= 30
    poll = client.get(f"/projects/{project.pk}/inflight/", {"ids": [render.pk]}, HTTP_HX_REQUEST="true")
    assert 15 <= seconds_shown(poll.content.decode()) <= 30


def test_a_render_moving_normally_gives_no_reason(client, alice, project, key):
    make_renders(project, [alice], 2, statuses=(Status.DOWNLOADING, Status.IN_PROGRESS), api_key=None)
    client.force_login(alice)
    assert "wait-reason" not in client.get(f"/projects/{project.pk}/").content.decode()


def test_the_reason_goes_once_the_pause_is_over(client, alice, project, key):
    render, = make_renders(project, [alice], 1, statuses=(Status.DOWNLOADING,), api_key=key,
                           provider_video_id="video_2")
    key.paused_until = timezone.now() - timezone.timedelta(seconds=1)
    key.save(update_fields=["paused_until"])
    client.force_login(alice)
    assert "rate limit" not in client.get(f"/projects/{project.pk}/").content.decode()
