"""The one door to a project: every view loads projects (and what hangs off them) through here.

An outsider gets 404 (a project's existence is not disclosed); a member without the role gets 403.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from projects.models import Membership, Role


def get_membership(user, project_id, role=Role.VIEWER):
    """The user's membership of the project, with the project loaded; 404 for outsiders, 403 below `role`."""
    if not user.is_authenticated:
        raise Http404
    membership = Membership.objects.select_related("project").filter(project_id=project_id, user=user).first()
    if membership is None:
        raise Http404
    if not membership.has_role(role):
        raise PermissionDenied(f"This needs the {Role(role).label.lower()} role in {membership.project.name}.")
    return membership


def get_project(user, project_id, role=Role.VIEWER):
    return get_membership(user, project_id, role).project
