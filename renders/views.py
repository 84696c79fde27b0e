from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from projects.access import get_membership


@login_required
def studio(request, project_id):
    """The project page: render history with the submit form on top (placeholder until the studio lands)."""
    membership = get_membership(request.user, project_id)
    return render(request, "renders/studio.html", {"project": membership.project, "membership": membership})
