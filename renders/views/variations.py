"""The variations page: the renders of one submit (the same prompt and settings) side by side, each with its
player or thumbnail, its status and the member's favourite star, to compare them and keep the good ones.

Reached from any render of the group (its "1 of 3" marker in the history); a render without variations shows
alone. Any member may look; an outsider gets 404 like every render page (projects.access).
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render as render_page
from django.views.decorators.http import require_GET

from projects.access import get_in_project, get_membership
from renders import history, watching
from renders.models import Render


@login_required
@require_GET
def render_variations(request, project_id, render_id):
    membership = get_membership(request.user, project_id)
    chosen = get_in_project(membership, Render.objects.visible(), pk=render_id)
    group = history.variations(membership.project, request.user, chosen)
    context = {"project": membership.project, "membership": membership, "chosen": chosen,
               "back_url": request.path}
    if request.htmx and not request.htmx.history_restore_request:
        # the poll: the cells it names (in flight when last shown) come back; a player already showing is left be
        asked = {int(v) for v in request.GET.getlist("ids") if v.isdigit() and len(v) < 19}
        group = [variation for variation in group if variation.pk in asked]
        watching.watch(group)  # on screen: the worker asks the provider for their progress while this page polls
        return render_page(request, "renders/variations.html#poll_response", {
            **context, "group": group, "polling": any(variation.is_in_flight for variation in group)})
    return render_page(request, "renders/variations.html", {
        **context, "group": group, "first": group[0] if group else chosen, "count": chosen.variation_count,
        "in_flight": any(variation.is_in_flight for variation in group)})
