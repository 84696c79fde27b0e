"""Reads for the projects list: a user's projects with counts and latest thumbnails, in a constant number of
queries whatever the number of projects or renders."""

from django.apps import apps
from django.db.models import Count, F, IntegerField, OuterRef, Subquery, Value, Window
from django.db.models.functions import Coalesce, RowNumber
from django.urls import NoReverseMatch, reverse

from projects.models import Membership

THUMBNAILS_PER_PROJECT = 3


def _render_model():
    # renders depends on projects, never the reverse: look the model up at run time.
    try:
        return apps.get_model("renders", "Render")
    except LookupError:
        return None


def _count(queryset, outer="project_id"):
    counted = queryset.filter(project_id=OuterRef(outer)).order_by().values("project_id")
    return Coalesce(Subquery(counted.annotate(n=Count("pk")).values("n")[:1], output_field=IntegerField()), 0)


def project_cards(user):
    """The user's memberships (project loaded) annotated with member_count and render_count, each with
    `.thumbnails`: up to 3 of the newest renders that have one, as dicts with id, url and status.
    Three queries: memberships, thumbnails, and nothing else."""
    Render = _render_model()
    memberships = (
        Membership.objects.filter(user=user)
        .select_related("project")
        .annotate(member_count=_count(Membership.objects.all()))
        .order_by("project__name", "project_id")
    )
    if Render is not None:
        memberships = memberships.annotate(render_count=_count(Render.objects.filter(deleted_at__isnull=True)))
    else:
        memberships = memberships.annotate(render_count=Value(0))
    memberships = list(memberships)
    thumbnails = _latest_thumbnails(Render, [m.project_id for m in memberships])
    for membership in memberships:
        membership.thumbnails = thumbnails.get(membership.project_id, [])
    return memberships


def _latest_thumbnails(Render, project_ids):
    if Render is None or not project_ids:
        return {}
    try:
        reverse("render_asset", kwargs={"project_id": 1, "render_id": 1, "variant": "thumbnail"})
    except NoReverseMatch:
        return {}
    rows = (
        Render.objects.filter(project_id__in=project_ids, deleted_at__isnull=True)
        .exclude(thumbnail="")
        .annotate(rank=Window(RowNumber(), partition_by=[F("project_id")], order_by=[F("created_at").desc(),
                                                                                  F("pk").desc()]))
        .filter(rank__lte=THUMBNAILS_PER_PROJECT)
        .order_by("project_id", "rank")
        .values("id", "project_id", "status")
    )
    found = {}
    for row in rows:
        url = reverse("render_asset", kwargs={"project_id": row["project_id"], "render_id": row["id"],
                                              "variant": "thumbnail"})
        found.setdefault(row["project_id"], []).append({"id": row["id"], "url": url, "status": row["status"]})
    return found
