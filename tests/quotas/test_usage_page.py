"""“My usage”: numbers from the ledger (quotas.services), per project, and the SVG chart of the last 30 days."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from quotas import services
from quotas.models import LedgerEntry, ProjectBudget
from renders.states import Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def charged(make_render):
    """charged(author, seconds_delivered, days_ago=0, **render fields): a settled render, its ledger dated back."""
    def charge(author, delivered, days_ago=0, **fields):
        with transaction.atomic():
            render = make_render(Status.COMPLETED, author=author, seconds=8, size="1280x720", **fields)
            services.reserve(render)
        render.delivered_seconds = Decimal(delivered)
        render.save(update_fields=["delivered_seconds"])
        services.settle(render)
        LedgerEntry.objects.filter(render=render).update(created_at=timezone.now() - timedelta(days=days_ago))
        return render
    return charge


def test_it_shows_this_months_seconds_spend_reserved_and_remaining(client, alice, make_render, charged):
    charged(alice, 8)  # $0.80
    with transaction.atomic():
        services.reserve(make_render(Status.QUEUED, author=alice, seconds=4, size="1280x720"))  # $0.40 held
    client.force_login(alice)
    page = client.get(reverse("usage")).content.decode()
    seconds = _card(page, "monthly_seconds")
    assert "288 s" in seconds and "left of 300 s" in seconds  # 300 - 8 used - 4 reserved
    assert "8 s used · 4 s reserved" in seconds
    spend = _card(page, "monthly_spend")
    assert "$48.80" in spend and "$0.80 used · $0.40 reserved" in spend
    assert "1 in flight now" in _card(page, "concurrent_renders")


def test_it_splits_the_month_by_project_with_the_budget_left(client, alice, project, charged):
    from projects.models import Project

    other = Project.objects.create(name="Moodboard")
    ProjectBudget.objects.create(project=project, monthly_budget_usd=Decimal("10.00"))
    charged(alice, 8)
    charged(alice, 4, project=other)
    client.force_login(alice)
    page = client.get(reverse("usage")).content.decode()
    trailer = _row(page, "Trailer")
    assert "8.0 s" in trailer and "$0.80" in trailer and "$9.20 of $10.00" in trailer
    mood = _row(page, "Moodboard")
    assert "4.0 s" in mood and "$0.40" in mood and "no budget" in mood
    assert "$1.20" in _row(page, "All projects")


def test_the_chart_has_a_bar_per_day_sized_by_the_spend(client, alice, bob, charged):
    charged(alice, 8, days_ago=2)  # $0.80
    charged(alice, 4, days_ago=2)  # $0.40 the same day
    charged(alice, 4, days_ago=40)  # outside the 30 days
    charged(bob, 8)  # someone else's
    client.force_login(alice)
    page = client.get(reverse("usage")).content.decode()
    bars = re.findall(r'<rect class="chart-bar" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"[^>]*'
                      r'data-day="([\d-]+)" data-value="([\d.]+)"><title>([^<]*)</title>', page)
    assert len(bars) == 30
    today = timezone.localdate()
    by_day = {day: (float(height), value, title) for height, day, value, title in bars}
    assert by_day[str(today - timedelta(days=2))][1] == "1.20"
    assert "$1.20, 12 s" in by_day[str(today - timedelta(days=2))][2]
    assert by_day[str(today)][1] == "0.00" and by_day[str(today)][0] == 0
    assert max(h for h, _, _ in by_day.values()) == by_day[str(today - timedelta(days=2))][0] > 0
    assert "1.20 in total" in page  # the chart's text for screen readers


def test_a_new_user_sees_an_empty_month(client, charlie):
    client.force_login(charlie)
    page = client.get(reverse("usage")).content.decode()
    assert "No renders this month yet" in page and "No spend from" in page


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("usage"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def _card(page, code):
    return re.search(rf'data-limit="{code}">(.*?)</li>', page, re.S).group(1)


def _row(page, name):
    return re.search(rf"<td[^>]*>(?:<a[^>]*>|<strong>)?{name}(.*?)</tr>", page, re.S).group(1)
