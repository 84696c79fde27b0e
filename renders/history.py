"""The studio's history: which renders a page shows, in a constant number of queries whatever their number.

One query per page of cards: the author comes with select_related, "is it my favourite?" is an Exists()
annotation, the thumbnail is a URL built from the row, so no card ever asks the database anything. Pages are
keyset pages on the id (newest first): `before=<id>` for older, `after=<id>` for newer, so page 400 costs what
page 1 costs (no OFFSET, no COUNT), served by the indexes of the studio migration.
"""

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Max, OuterRef
from django.utils import timezone

from renders.models import Favourite, Render
from renders.states import FINAL, IN_FLIGHT, Status
from soraweb.templatetags.time_words import short_age

PAGE_SIZE = 24
# the in-flight poll refreshes at most this many cards (a page never shows more, plus what arrived since)
MAX_POLLED = 100
PORTRAIT_SIZES = frozenset({"720x1280", "1024x1792"})

STATUS_FILTERS = {
    "in_flight": ("In flight", IN_FLIGHT),
    "completed": ("Completed", {Status.COMPLETED}),
    "failed": ("Failed", {Status.FAILED}),
    "canceled": ("Canceled", {Status.CANCELED}),
}


@dataclass(frozen=True)
class Filters:
    """What the history is narrowed to (cleaned by forms.HistoryFilterForm); the cursor is not a filter."""

    status: str = ""
    model: str = ""
    author: int | None = None
    favourites: bool = False
    q: str = ""

    @property
    def active(self):
        return bool(self.status or self.model or self.author or self.favourites or self.q)

    def params(self):
        """The filters as query parameters, for links that keep them (pages, redirects)."""
        values = {"status": self.status, "model": self.model, "author": self.author or "",
                  "favourites": "1" if self.favourites else "", "q": self.q}
        return {name: value for name, value in values.items() if value}

    def query(self, **extra):
        params = {**self.params(), **{k: v for k, v in extra.items() if v not in (None, "")}}
        return "?" + urlencode(params) if params else "?"

    def matches(self, render, user):
        """Whether `render` (with .is_favourite) belongs in a history with these filters: for a card added
        without a reload (a submit, a teammate's render), decided in Python so it costs no query."""
        if self.status and render.status not in STATUS_FILTERS[self.status][1]:
            return False
        if self.model and render.model != self.model:
            return False
        if self.author and render.author_id != self.author:
            return False
        if self.favourites and not getattr(render, "is_favourite", False):
            return False
        return not self.q or self.q.casefold() in render.prompt.casefold()


def with_favourite(queryset, user):
    """Annotate `is_favourite` for `user`: one EXISTS per row inside the same query (the unique index on
    (user, render) answers it), never a query per card."""
    return queryset.annotate(is_favourite=Exists(Favourite.objects.filter(user=user, render=OuterRef("pk"))))


def cards(project, user):
    """The base queryset of history cards: the project's visible renders, author loaded, favourite annotated."""
    return with_favourite(
        Render.objects.visible().filter(project=project).select_related("author"), user)


def filtered(project, user, filters):
    renders = cards(project, user)
    if filters.status:
        statuses = STATUS_FILTERS[filters.status][1]
        renders = renders.filter(status__in=statuses) if len(statuses) > 1 else renders.filter(status=next(
            iter(statuses)))
    if filters.model:
        renders = renders.filter(model=filters.model)
    if filters.author:
        renders = renders.filter(author_id=filters.author)
    if filters.favourites:
        renders = renders.filter(is_favourite=True)
    if filters.q:
        renders = renders.filter(prompt__icontains=filters.q)
    return renders


@dataclass
class Page:
    renders: list
    filters: Filters
    newer: int | None = None  # the `after` cursor of the newer page, if there is one
    older: int | None = None  # the `before` cursor of the older page, if there is one
    in_flight_ids: list = field(default_factory=list)

    @property
    def polling(self):
        return bool(self.in_flight_ids)

    @property
    def newer_query(self):
        return self.filters.query(after=self.newer)

    @property
    def older_query(self):
        return self.filters.query(before=self.older)

    @property
    def newest_query(self):
        return self.filters.query()


def page(project, user, filters, *, before=None, after=None, size=PAGE_SIZE):
    """One page of the history: ONE query (size + 1 rows, to know whether there is more)."""
    renders = filtered(project, user, filters)
    if after:
        rows = list(renders.filter(pk__gt=after).order_by("pk")[: size + 1])
        has_newer = len(rows) > size
        rows = rows[:size][::-1]
        result = Page(rows, filters, newer=rows[0].pk if rows and has_newer else None,
                      older=rows[-1].pk if rows else None)
    else:
        if before:
            renders = renders.filter(pk__lt=before)
        rows = list(renders.order_by("-pk")[: size + 1])
        has_older = len(rows) > size
        rows = rows[:size]
        result = Page(rows, filters, newer=rows[0].pk if rows and before else None,
                      older=rows[-1].pk if rows and has_older else None)
    decorate(result.renders)
    result.in_flight_ids = [r.pk for r in result.renders if r.status in IN_FLIGHT]
    return result


def decorate(renders):
    """Facts a card shows that are pure functions of the row (no query)."""
    now = timezone.now()
    for render in renders:
        render.is_portrait = render.size in PORTRAIT_SIZES
        render.is_in_flight = render.status in IN_FLIGHT
        render.shown_cost = render.charged_usd if render.status in FINAL else render.cost_estimate_usd
        render.age = short_age(render.created_at, now)
    return renders


def by_ids(project, user, ids):
    """The cards the in-flight poll refreshes: ONE query for at most MAX_POLLED ids of this project."""
    return decorate(list(cards(project, user).filter(pk__in=list(ids)[:MAX_POLLED]).order_by("-pk")))


def poll_states(project_id, user, ids):
    """What the in-flight poll asks first, in ONE query answered by the primary key and the membership's unique
    index: for each of `ids` in this project (at most MAX_POLLED) that the user may see, its status, progress and
    next poll (for watching.watch), with the project's change marker as `revision`. Empty for an outsider."""
    return list(Render.objects.visible().filter(project_id=project_id, pk__in=list(ids)[:MAX_POLLED],
                                                project__memberships__user=user)
                .annotate(revision=F("project__revision"))
                .only("pk", "project_id", "created_at", "status", "progress", "next_attempt_at").order_by())


def variations(project, user, render):
    """The cards of `render`'s variation group (itself alone when it has none), visible ones only, by variation
    number: ONE query, favourites annotated, for the side-by-side grid."""
    group = cards(project, user)
    group = group.filter(variation_group=render.variation_group) if render.variation_group else group.filter(
        pk=render.pk)
    return decorate(list(group.order_by("variation_number", "pk")))


def latest_id(project):
    """The newest render id of the project: the every-page poll shows teammates' renders above it."""
    # visible(): the studio's partial index on (project, id DESC) answers it with one index probe
    return Render.objects.visible().filter(project=project).aggregate(latest=Max("pk"))["latest"] or 0


def newer_from_teammates(project, user, filters, after, limit=PAGE_SIZE):
    """Renders teammates submitted since the page loaded (id above `after`), that the page's filters admit:
    ONE query. The user's own renders come with the answer to their submit, so they are left out."""
    rows = filtered(project, user, filters).filter(pk__gt=after).exclude(author=user).order_by("-pk")[:limit]
    return decorate(list(rows))


def set_favourite(user, render, on):
    """Star or unstar `render` for `user`; idempotent (a double click or a replayed POST changes nothing more)."""
    if on:
        try:
            with transaction.atomic():
                Favourite.objects.get_or_create(user=user, render=render)
        except IntegrityError:
            pass  # a concurrent request starred it first: the same outcome
    else:
        Favourite.objects.filter(user=user, render=render).delete()
    return on


def is_favourite(user, render):
    """For one render (the render page): whether `user` starred it."""
    return Favourite.objects.filter(user=user, render=render).exists()
