"""A project's activity feed: who submitted, what completed, failed (and why) or was canceled or deleted, who
commented, who joined. Read from the records the app already keeps (RenderEvents, Comments, Memberships), so
nothing has to remember to write a second copy.

The three sources are merged by the database: one UNION ALL of (time, kind, id) rows, ordered and cut to the
page there; then one query per kind loads the page's objects. So a page costs the same few queries (count,
page, at most three loads) whether the project has ten entries or a million.
"""

from dataclasses import dataclass
from datetime import datetime

from django.core.paginator import Paginator
from django.db.models import CharField, F, Q, Value

from projects.models import Membership
from renders.models import Comment, EventKind, RenderEvent
from renders.states import Status

PER_PAGE = 30

# the render events worth telling a team about (the rest are the pipeline's own detail, on the render page)
FEED_EVENTS = (
    Q(kind=EventKind.SUBMITTED)
    | Q(status_to__in=[Status.COMPLETED, Status.FAILED, Status.CANCELED])
    | Q(kind=EventKind.DELETED)
)


@dataclass
class Entry:
    kind: str  # "event" | "comment" | "joined"
    at: datetime
    obj: object  # a RenderEvent (render and author loaded), a Comment (render, author) or a Membership (user)

    @property
    def render(self):
        return getattr(self.obj, "render", None)


def _rows(project_id):
    text = CharField()
    # .order_by() drops each model's default ordering: SQLite refuses ORDER BY inside a compound query's parts
    # (PostgreSQL accepts it), and only the order of the whole union matters
    events = (RenderEvent.objects.filter(FEED_EVENTS, render__project_id=project_id).order_by()
              .annotate(k=Value("event", output_field=text)).values_list("created_at", "k", "id"))
    comments = (Comment.objects.filter(project_id=project_id).order_by()
                .annotate(k=Value("comment", output_field=text)).values_list("created_at", "k", "id"))
    joined = (Membership.objects.filter(project_id=project_id).order_by()
              .annotate(k=Value("joined", output_field=text)).values_list("created_at", "k", "id"))
    # ties (the same instant) broken by kind and id, so pages never overlap or skip
    return events.union(comments, joined, all=True).order_by(F("created_at").desc(), F("k").desc(), F("id").desc())


def feed_page(project_id, page_number=1, per_page=PER_PAGE):
    """The feed's page `page_number` (a Django Page whose object_list is a list of Entry), newest first."""
    paginator = Paginator(_rows(project_id), per_page)
    page = paginator.get_page(page_number)
    rows = list(page.object_list)
    ids = {"event": [], "comment": [], "joined": []}
    for _at, kind, pk in rows:
        ids[kind].append(pk)
    loaded = {
        "event": RenderEvent.objects.filter(pk__in=ids["event"]).select_related("render", "render__author")
        if ids["event"] else [],
        "comment": Comment.objects.filter(pk__in=ids["comment"]).select_related("render", "author")
        if ids["comment"] else [],
        "joined": Membership.objects.filter(pk__in=ids["joined"]).select_related("user") if ids["joined"] else [],
    }
    by_kind = {kind: {obj.pk: obj for obj in objs} for kind, objs in loaded.items()}
    page.object_list = [Entry(kind, at, by_kind[kind][pk]) for at, kind, pk in rows if pk in by_kind[kind]]
    return page
