"""The one door to a project: every view loads projects (and what hangs off them) through here.

An outsider gets 404 (a project's existence is not disclosed); a member without the role gets 403.

    membership = get_membership(request.user, project_id, Role.EDITOR, write=True)
    render = get_in_project(membership, Render.objects.filter(deleted_at=None), pk=render_id)
    if not membership.can_change(render.created_by_id): raise PermissionDenied(...)
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from projects.models import Membership, Role


class ArchivedProject(PermissionDenied):
    """A change asked of an archived (read-only) project."""


def get_membership(user, project_id, role=Role.VIEWER, *, write=False):
    """The user's membership of the project, with the project loaded; 404 for outsiders, 403 below `role`.

    write=True also refuses (403) any change to an archived project, which is read-only until restored.
    """
    if not user.is_authenticated:
        raise Http404
    membership = Membership.objects.select_related("project").filter(project_id=project_id, user=user).first()
    if membership is None:
        raise Http404
    if not membership.has_role(role):
        raise PermissionDenied(f"This needs the {Role(role).label.lower()} role in {membership.project.name}.")
    if write and membership.project.is_archived:
        raise ArchivedProject(f"{membership.project.name} is archived and read-only. An owner can restore it.")
    return membership


def get_project(user, project_id, role=Role.VIEWER, *, write=False):
    return get_membership(user, project_id, role, write=write).project


def get_in_project(membership, queryset, **lookups):
    """One object of `queryset` (a model or queryset with a `project` FK) that belongs to the membership's
    project; 404 otherwise, so another project's ids are indistinguishable from missing ones."""
    if hasattr(queryset, "_default_manager"):
        queryset = queryset._default_manager.all()
    obj = queryset.filter(project_id=membership.project_id, **lookups).first()
    if obj is None:
        raise Http404
    return obj
