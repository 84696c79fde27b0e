"""The staff dashboard: renders in flight by state, failures by reason, spend per day by user, project and key,
key health and headroom, storage per project."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from providers import limiter
from quotas import services
from quotas.models import LedgerEntry
from renders.states import Status

pytestmark = pytest.mark.django_db


def charge(render, delivered, days_ago=0):
    with transaction.atomic():
        services.reserve(render)
    render.delivered_seconds = Decimal(delivered)
    render.save(update_fields=["delivered_seconds"])
    services.settle(render)
    LedgerEntry.objects.filter(render=render).update(created_at=timezone.now() - timedelta(days=days_ago))


def test_it_counts_renders_in_flight_by_state(staff_client, make_render):
    for status in (Status.QUEUED, Status.QUEUED, Status.IN_PROGRESS, Status.WAITING, Status.COMPLETED):
        make_render(status)
    page = staff_client.get(reverse("staff_dashboard")).content.decode()
    counts = dict(re.findall(r'data-status="(\w+)">.*?<span class="stat-value">(\d+)</span>', page, re.S))
    assert counts["queued"] == "2" and counts["in_progress"] == "1" and counts["waiting"] == "1"
    assert "completed" not in counts and "4 now" in page


def test_it_groups_failures_of_the_last_30_days_by_reason(staff_client, make_render):
    make_render(Status.FAILED, error_code="moderation_blocked", error_message="The safety system refused it.")
    make_render(Status.FAILED, error_code="moderation_blocked", error_message="Refused again.")
    make_render(Status.FAILED, error_code="no_usable_key", error_message="No key.")
    make_render(Status.FAILED, error_code="deadline", updated_at=timezone.now() - timedelta(days=31))
    page = staff_client.get(reverse("staff_dashboard")).content.decode()
    reasons = dict(re.findall(r'data-reason="(\w+)">.*?class="num">(\d+)</td>', page, re.S))
    assert reasons == {"moderation_blocked": "2", "no_usable_key": "1"}


def test_it_shows_spend_per_day_by_user_project_and_key(staff_client, make_render, make_key, alice, bob):
    main = make_key("main")
    spare = make_key("spare", secret="sk-spare-0002")
    charge(make_render(Status.COMPLETED, author=alice, api_key=main, seconds=8, size="1280x720"), 8, days_ago=1)
    charge(make_render(Status.COMPLETED, author=bob, api_key=spare, seconds=4, size="1280x720"), 4)
    page = staff_client.get(reverse("staff_dashboard")).content.decode()
    assert "$1.20 settled" in page
    tables = {name: body for name, body in re.findall(r'data-dimension="(\w+)">(.*?)</table>', page, re.S)}
    assert set(tables) == {"user", "project", "key"}
    assert re.search(r"alice</td><td[^>]*>\$0\.80", tables["user"]) and re.search(r"bob</td><td[^>]*>\$0\.40",
                                                                                  tables["user"])
    assert "Trailer</td><td data-label=\"30 days\" class=\"num\">$1.20" in tables["project"]
    assert re.search(r">main</a></td><td[^>]*>\$0\.80", tables["key"])
    # each row's sparkline has a bar on the day of its spend
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    assert f'data-day="{yesterday}" data-value="0.80"' in tables["user"]


def test_it_shows_each_keys_health_and_headroom(staff_client, make_key):
    key = make_key("main", rpm_limit=10)
    limiter.acquire_request(key.pk)
    key.mark_out_of_credit("insufficient_quota")
    page = staff_client.get(reverse("staff_dashboard")).content.decode()
    assert "Requests in the last minute: 1 of 10 (9 left)" in page and "badge badge-out_of_credit" in page


def test_it_sums_the_storage_of_each_project(staff_client, make_render, project):
    from django.core.files.storage import default_storage

    render = make_render(Status.COMPLETED)
    render.video.save("video.mp4", ContentFile(b"v" * 3000), save=True)
    render.thumbnail.save("thumbnail.webp", ContentFile(b"t" * 500), save=True)
    default_storage.save("renders/999999/1/video.mp4", ContentFile(b"x" * 100))  # a project that is gone
    page = staff_client.get(reverse("staff_dashboard")).content.decode()
    rows = {project_id: size for project_id, _files, size in re.findall(
        r'<tr data-project="(\d*)"><td data-label="Project">[^<]*</td><td[^>]*>(\d+)</td><td[^>]*data-bytes="(\d+)"',
        page)}
    assert rows[str(project.pk)] == "3500" and rows["999999"] == "100"
    assert "(deleted project)" in page


def test_it_is_for_staff_only(client, alice):
    client.force_login(alice)
    assert client.get(reverse("staff_dashboard")).status_code == 403
