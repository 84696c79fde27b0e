"""Notices: "your render completed", "your render failed: why", for the render's author, wherever they are.

A notice is written once, when the render reaches a final state (completed or failed; a cancel is the user's
own doing and needs no notice). The hook is the RenderEvent that every status move writes (Render.move): a
receiver in renders.receivers calls `render_finished` once the transaction that made the move commits, whichever
path made it (a worker, a webhook, the reconciler). The every-page poll of base.html shows unseen notices; authors
who chose it on their settings page get an email too, at most once per notice.

The same hook moves the project's change marker (Project.revision) on for every render created, moved or deleted
(and renders.lifecycle for progress): the every-page poll sends the marker it last saw and, while neither the
project nor the user's notices changed, is answered by `changes` in ONE indexed query and no body.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Subquery
from django.template.defaultfilters import truncatechars
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from projects.models import Membership, Project
from renders.models import EventKind, Notice, NotificationSettings, Render
from renders.states import Status

log = logging.getLogger(__name__)

FINISHED = {Status.COMPLETED: Notice.Kind.COMPLETED, Status.FAILED: Notice.Kind.FAILED}
MAX_SHOWN = 10  # notices one poll brings at most (the rest come with the next polls)


def render_url(render):
    """The render page (the render page's own URL once it exists; its path is fixed by the URL scheme)."""
    try:
        return reverse("render_detail", kwargs={"project_id": render.project_id, "render_id": render.pk})
    except NoReverseMatch:
        return f"/projects/{render.project_id}/renders/{render.pk}/"


def message_for(render):
    what = f"“{truncatechars(render.prompt, 60)}”"
    if render.status == Status.COMPLETED:
        return f"Your render {what} completed."
    reason = render.error_message or "the provider gave no reason."
    return f"Your render {what} failed: {reason}"


def render_finished(render):
    """Write the author's notice for a render that just completed or failed, and email it if they chose to.
    Idempotent: a second call for the same render and outcome writes and sends nothing."""
    render = Render.objects.select_related("author", "project").get(pk=getattr(render, "pk", render))
    kind = FINISHED.get(render.status)
    if kind is None or render.author is None or render.is_deleted:
        return None
    try:
        with transaction.atomic():
            notice, _ = Notice.objects.get_or_create(render=render, user=render.author, kind=kind,
                                                     defaults={"message": message_for(render)})
    except IntegrityError:  # a concurrent call wrote it first
        notice = Notice.objects.get(render=render, user=render.author, kind=kind)
    if notice.emailed_at is None and wants_email(render.author):
        send_notice_email(notice, render)
    return notice


def wants_email(user):
    return bool(user.email) and NotificationSettings.objects.filter(user=user, email_on_finish=True).exists()


def send_notice_email(notice, render):
    # the claim first: of two callers only one sends (a failed send is logged, not retried: the notice stays)
    if not Notice.objects.filter(pk=notice.pk, emailed_at__isnull=True).update(emailed_at=timezone.now()):
        return False
    link = settings.SITE_URL + render_url(render)
    subject = ("Render completed: " if notice.kind == Notice.Kind.COMPLETED else "Render failed: ") + truncatechars(
        render.prompt, 50)
    body = (f"{notice.message}\n\nProject: {render.project.name}\nOpen it: {link}\n\n"
            f"You get these emails because you asked for them. Turn them off at {settings.SITE_URL}/settings/")
    try:
        send_mail(subject, body, None, [render.author.email])
    except Exception:  # an SMTP fault must not break the worker's move; the notice is on the page anyway
        log.exception("could not email notice %s to %s", notice.pk, render.author.email)
        return False
    return True


def on_render_event(event):
    """Called for every new RenderEvent (renders.receivers), inside the transaction that wrote it: every status
    move, a submit and a delete move the project's change marker on; a final move schedules the notice."""
    if event.status_to or event.kind == EventKind.DELETED:
        Project.mark_changed(event.render.project_id)
    if event.status_to in FINISHED:
        render_id = event.render_id
        transaction.on_commit(lambda: _finished_safely(render_id))


def _finished_safely(render_id):
    try:
        render_finished(render_id)
    except Exception:  # after the commit: the render's move stands whatever happens to its notice
        log.exception("could not write the notice of render %s", render_id)


def unseen(user, limit=MAX_SHOWN):
    """The user's notices not shown yet, oldest first, render loaded (ONE query)."""
    return list(Notice.objects.filter(user=user, seen_at__isnull=True).select_related("render").order_by("id")[:limit])


def mark_seen(notices):
    if notices:
        Notice.objects.filter(pk__in=[n.pk for n in notices], seen_at__isnull=True).update(seen_at=timezone.now())


def changes(user, project_id=None):
    """What the every-page poll asks first: (the revision of the project, or None when there is no project or the
    user is not a member of it; whether the user has unseen notices). ONE query, answered by indexes: the user's
    row by its key, the membership by (project, user), the notices by the partial index of unseen ones."""
    unseen = Notice.objects.filter(user=user, seen_at__isnull=True)
    if project_id is None:
        return None, unseen.exists()
    revision = Membership.objects.filter(project_id=project_id, user=OuterRef("pk")).values("project__revision")
    rows = get_user_model().objects.filter(pk=user.pk).annotate(
        revision=Subquery(revision[:1]), unseen=Exists(unseen)).order_by().values_list("revision", "unseen")[:1]
    return next(iter(rows), (None, False))
