"""A project's activity page: its feed, newest first, a page at a time (renders.activity builds it)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render as render_page
from django.views.decorators.http import require_GET

from projects.access import get_membership
from renders import activity


@login_required
@require_GET
def project_activity(request, project_id):
    membership = get_membership(request.user, project_id)
    page = activity.feed_page(membership.project_id, request.GET.get("page"))
    return render_page(request, "renders/activity.html", {
        "project": membership.project, "membership": membership, "page": page,
    })
