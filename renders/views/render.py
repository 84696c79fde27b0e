"""The render page, where a team reviews one render and decides what to do next, and its actions: remix, try
again, cancel, delete (with a confirmation page), comment; the side-by-side comparison with the parent.

Every view loads the project through projects.access (404 for outsiders, 403 with the readable page for members
without the role) and the render inside that project; state changes go through renders.actions (which enforce
the roles again) or Comment.post. Forms are plain POSTs that work without JavaScript; htmx only enhances the
comment form (no reload, so a playing video keeps playing) and the page's one live poll.
"""

import difflib
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.shortcuts import render as render_page
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from projects.access import get_in_project, get_membership
from projects.models import Role
from providers.models import KeyState
from quotas.services import QuotaExceeded
from renders import actions, lineage, timeline, watching
from renders.history import is_favourite
from renders.lifecycle import plain_error
from renders.models import COMMENT_MAX_CHARS, VARIANTS, Comment, EventKind, Render
from renders.states import IN_FLIGHT, Status
from soraweb import ratelimits

TEMPLATE = "renders/render_detail.html"
POLL_SECONDS = 2
# The spritesheet's grid when nothing better is known: sorasim's 5 columns x 2 rows of frames sampled at even
# intervals (frame i shows the video at (i + 0.5) / 10 of its length). The provider does not document its grid;
# player.js checks this guess against the sheet's pixel size and the video's aspect ratio, and derives another
# grid when the tiles would not have the video's shape (see static/js/player.js).
SPRITE_COLUMNS, SPRITE_ROWS = 5, 2


# --- forms ------------------------------------------------------------------------------------------------

class RemixForm(forms.Form):
    prompt = forms.CharField(
        label="What should change?", widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Describe the change; the remix keeps this render's model, size and length.")


class CommentForm(forms.Form):
    body = forms.CharField(label="Comment", max_length=COMMENT_MAX_CHARS,
                           widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Notes for the team"}))


def _add_errors(form, error):
    """Put a service's ValidationError on the form: by field where the form has it, else above the form."""
    by_field = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
    for name, errors in by_field.items():
        for message in errors:
            form.add_error(name if name in form.fields else None, message)


# --- reading a render -------------------------------------------------------------------------------------

def _get_render(membership, render_id):
    """A visible (not deleted) render of the membership's project, with what the page shows of it; 404 else."""
    renders = Render.objects.visible().select_related("author", "api_key", "remix_of", "retry_of")
    return get_in_project(membership, renders, pk=render_id)


def _detail_url(render, anchor=""):
    url = reverse("render_detail", kwargs={"project_id": render.project_id, "render_id": render.pk})
    return f"{url}#{anchor}" if anchor else url


@dataclass
class Failure:
    title: str
    detail: str
    advice: str


# error code -> (title, advice). The detail is the render's own error message (plain words, set by the pipeline).
FAILURES = {
    "moderation_blocked": ("Blocked by the provider's safety system",
                           "Reword the prompt (or use another image), then try again."),
    "out_of_credit": ("Out of credit",
                      "The provider account behind the project's keys has no credit left. Once an admin tops it up "
                      "or adds a key, try again."),
    "no_usable_key": ("No usable provider key",
                      "Every key that could take this render was disabled, invalid or busy for too long. Ask an "
                      "admin to check the keys, then try again."),
    "provider_unavailable": ("The provider is down", "Try again in a while."),
    "deadline": ("The provider did not finish in time", "The provider may be overloaded. Try again in a while."),
    "outcome_unknown": ("The provider never confirmed the job",
                        "Try again; the provider may have been unreachable."),
    "expired": ("Expired at the provider", "The finished video expired before it could be stored. Try again."),
    "not_found": ("Gone at the provider", "The provider no longer has this video. Try again."),
    "download_failed": ("The video could not be stored", "The download kept failing. Try again."),
    "invalid_request": ("Refused by the provider", "Change the prompt or settings, then try again."),
    "model_not_found": ("Model not available", "The project's key cannot use this model. Try another model."),
    "deployment_not_found": ("No deployment of this model",
                             "The provider resource behind the project's key has no deployment named after this "
                             "model. Ask an admin to deploy it (or fix the key's model names), then try again."),
    "unknown_status": ("Stopped", "The provider reported something unexpected. Try again."),
}


def _out_of_credit(render, events):
    """A "no usable key" failure caused by keys without credit: the key's state says so, or the waits did."""
    if render.api_key is not None and render.api_key.state == KeyState.OUT_OF_CREDIT:
        return True
    words = KeyState.OUT_OF_CREDIT.label.lower()
    return any(words in event.message.lower() for event in events
               if event.kind in (EventKind.WAIT, EventKind.RETRY, EventKind.ERROR))


def explain_failure(render, events):
    """Why a failed or canceled render ended, in plain words, and what to do; None for any other render."""
    if render.status == Status.CANCELED:
        who = next((e.message for e in reversed(events) if e.status_to == Status.CANCELED and e.message), "")
        return Failure("Canceled", who or "Canceled before it was sent to the provider.",
                       "Nothing was charged. Try again to submit it anew.")
    if render.status != Status.FAILED:
        return None
    code = render.error_code
    if code == "no_usable_key" and _out_of_credit(render, events):
        code = "out_of_credit"
    title, advice = FAILURES.get(code, ("Failed", "Try again."))
    detail = render.error_message or plain_error(render.error_code)
    return Failure(title, detail, f"Nothing was charged. {advice}")


def remix_state(render):
    """(supported, reason): whether this render can be remixed now, and why not in plain words."""
    key = render.api_key
    if render.status != Status.COMPLETED:
        return False, "Only a completed render can be remixed."
    if key is None or not (key.can_remix_endpoint or key.can_remix_by_create):
        return False, "The provider of this render's key does not support remixes."
    try:
        actions.check_remix_parent(render, render.project)
    except ValidationError as e:
        return False, " ".join(e.messages)
    return True, ""


def _duration(seconds):
    seconds = max(int(round(seconds)), 1)
    if seconds < 90:
        return f"{seconds} s"
    return f"{round(seconds / 60)} min"


def time_left(render, now=None):
    """What the status card says of the time left, in plain words ("" when nothing useful is known): from the
    progress the provider reported and the time since the create was sent (approximate, like the progress)."""
    if render.status == Status.QUEUED:
        return "Waiting in the provider's queue"
    if render.status == Status.DOWNLOADING:
        return "Finished at the provider; storing the video"
    if render.status != Status.IN_PROGRESS or not 0 < render.progress < 100:
        return ""
    started = render.create_sent_at or render.created_at
    elapsed = ((now or timezone.now()) - started).total_seconds()
    if elapsed <= 0:
        return ""
    return f"About {_duration(elapsed * (100 - render.progress) / render.progress)}"


def asset_urls(render):
    urls = {}
    for variant in VARIANTS:
        if render.asset(variant):
            urls[variant] = reverse("render_asset", kwargs={"project_id": render.project_id, "render_id": render.pk,
                                                            "variant": variant})
    return urls


def _context(request, membership, render, *, remix_form=None, comment_form=None, confirm_delete=False):
    project = membership.project
    family = lineage.family(render)
    events = list(render.events.all())
    can_edit = membership.has_role(Role.EDITOR) and not project.is_archived
    remixable, remix_reason = remix_state(render)
    width, _, height = render.size.partition("x")
    render.is_favourite = is_favourite(request.user, render)
    return {
        "project": project,
        "membership": membership,
        "render": render,
        "family": family,
        "timeline": timeline.steps(events, render),
        "comments": list(render.comments.select_related("author")),
        "retries": list(render.retries.visible().only("id", "status", "remix_of_id", "retry_of_id")),
        "failure": explain_failure(render, events),
        "assets": asset_urls(render),
        "sprite": {"columns": SPRITE_COLUMNS, "rows": SPRITE_ROWS},
        "crumb": f"Render #{render.pk}",
        "detail_url": _detail_url(render),
        "width": width,
        "height": height,
        "portrait": int(width or 0) < int(height or 0),
        "duration": render.delivered_seconds or render.seconds,
        "can_comment": not project.is_archived,
        "can_edit": can_edit,
        "can_change": can_edit and membership.can_change(render.author_id),
        "can_retry": can_edit and membership.can_change(render.author_id)
                     and render.status in (Status.FAILED, Status.CANCELED),
        "remixable": remixable,
        "remix_reason": remix_reason,
        "remix_form": remix_form or RemixForm(),
        "comment_form": comment_form or CommentForm(),
        "confirm_delete": confirm_delete,
        "is_favourite": render.is_favourite,
        "live": render.in_flight or family.in_flight,
        "poll_seconds": POLL_SECONDS,
        "time_left": time_left(render),
    }


def _watch(context):
    """The page shows these renders in flight (the render and its remixes' progress bars): mark them watched, so
    the worker asks the provider for their progress while the page polls (renders.watching)."""
    family = context["family"]
    watching.watch([context["render"], *(node.render for node in family.nodes())])


def _page(request, membership, render, *, status=200, **kwargs):
    return render_page(request, TEMPLATE, _context(request, membership, render, **kwargs), status=status)


# --- the page ---------------------------------------------------------------------------------------------

@login_required
@require_GET
def render_detail(request, project_id, render_id):
    membership = get_membership(request.user, project_id)
    render = _get_render(membership, render_id)
    if request.htmx and request.GET.get("live"):
        return _live(request, membership, render)
    context = _context(request, membership, render)
    _watch(context)
    return render_page(request, TEMPLATE, context)


def _live(request, membership, render):
    """The page's one poll: the title's badge, the status card (progress, badge, time left), timeline, lineage and
    actions, swapped out of band together, and the renders in flight marked watched. When the render itself has
    just reached its final state the page reloads once (the player, downloads and failure reason appear); the
    poller is rendered without its trigger once nothing on the page is in flight."""
    shown = request.GET.get("shown", "")
    if shown in IN_FLIGHT and render.is_final:
        response = HttpResponse(status=200)
        response["HX-Refresh"] = "true"
        return response
    context = _context(request, membership, render)
    _watch(context)
    return render_page(request, f"{TEMPLATE}#live", context)


# --- actions ----------------------------------------------------------------------------------------------

@login_required
@require_POST
def render_remix(request, project_id, render_id):
    membership = get_membership(request.user, project_id, Role.EDITOR, write=True)
    render = _get_render(membership, render_id)
    if refused := ratelimits.count("submit", request.user):
        return ratelimits.too_many(request, refused)
    form = RemixForm(request.POST)
    if form.is_valid():
        try:
            child = actions.submit(request.user, membership.project, prompt=form.cleaned_data["prompt"],
                                    remix_of=render)
        except ValidationError as e:
            _add_errors(form, e)
        except QuotaExceeded as e:
            form.add_error(None, str(e))
        else:
            messages.success(request, f"Remix #{child.pk} submitted: it grows in the lineage below as it renders.")
            return redirect(_detail_url(render, "lineage"))
    return _page(request, membership, render, remix_form=form, status=400)


@login_required
@require_POST
def render_retry(request, project_id, render_id):
    membership = get_membership(request.user, project_id, Role.EDITOR, write=True)
    render = _get_render(membership, render_id)
    _require_change(membership, render)
    if refused := ratelimits.count("submit", request.user):
        return ratelimits.too_many(request, refused)
    try:
        new = actions.retry(render, request.user)
    except actions.RenderError as e:
        messages.error(request, str(e))
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    except QuotaExceeded as e:
        messages.error(request, str(e))
    else:
        messages.success(request, f"Trying again as render #{new.pk}.")
        return redirect(_detail_url(new))
    return redirect(_detail_url(render))


def _require_change(membership, render):
    if not membership.can_change(render.author_id):
        raise PermissionDenied("Editors can change only their own renders; an owner can change any.")


@login_required
@require_POST
def render_cancel(request, project_id, render_id):
    membership = get_membership(request.user, project_id, Role.EDITOR, write=True)
    render = _get_render(membership, render_id)
    _require_change(membership, render)
    try:
        actions.cancel(render, request.user)
    except actions.RenderError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, "Canceled before it was sent to the provider: nothing was charged.")
    return redirect(_detail_url(render))


@login_required
@require_http_methods(["GET", "POST"])
def render_delete(request, project_id, render_id):
    """GET: the render page with a confirmation (works without JavaScript); POST: the soft delete."""
    membership = get_membership(request.user, project_id, Role.EDITOR, write=True)
    render = _get_render(membership, render_id)
    _require_change(membership, render)
    if request.method == "GET":
        return _page(request, membership, render, confirm_delete=True)
    try:
        actions.delete(render, request.user)
    except actions.RenderError as e:
        messages.error(request, str(e))
        return redirect(_detail_url(render))
    messages.success(request, f"Deleted render #{render.pk}. Its remixes keep their place in the lineage.")
    return redirect("studio", project_id=render.project_id)


@login_required
@require_POST
def render_comment(request, project_id, render_id):
    membership = get_membership(request.user, project_id, Role.VIEWER, write=True)
    render = _get_render(membership, render_id)
    form = CommentForm(request.POST)
    comment = None
    if refused := ratelimits.count("comment", request.user):
        if not request.htmx:
            return ratelimits.too_many(request, refused)
        # the thread comes back with the text typed and the refusal where the form's errors show
        form.add_error(None, refused.message)
        return ratelimits.too_many(request, refused, f"{TEMPLATE}#comments",
                                   _context(request, membership, render, comment_form=form))
    if form.is_valid():
        try:
            comment = Comment.post(render, request.user, form.cleaned_data["body"])
        except ValidationError as e:
            _add_errors(form, e)
    if request.htmx:
        # the thread swaps in place (a playing video keeps playing); errors come back in it with the text typed
        context = _context(request, membership, render, comment_form=None if comment else form)
        return render_page(request, f"{TEMPLATE}#comments", context)
    if comment is not None:
        return redirect(_detail_url(render, f"comment-{comment.pk}"))
    return _page(request, membership, render, comment_form=form, status=400)


# --- compare with the parent ------------------------------------------------------------------------------

def word_diff(before, after):
    """[(op, text)] turning `before` into `after` word by word; op is "same", "del" or "ins"."""
    a, b = before.split(), after.split()
    parts = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(("same", " ".join(a[i1:i2])))
            continue
        if op in ("delete", "replace"):
            parts.append(("del", " ".join(a[i1:i2])))
        if op in ("insert", "replace"):
            parts.append(("ins", " ".join(b[j1:j2])))
    return parts


def _settings_rows(parent, render):
    def delivered(r):
        return None if r.delivered_seconds is None else f"{float(r.delivered_seconds):.2f} s"

    def charged(r):
        return f"${r.charged_usd:.2f}" if r.is_final else f"${r.cost_estimate_usd:.2f} reserved"

    rows = [("Model", parent.model, render.model), ("Size", parent.size, render.size),
            ("Length asked", f"{parent.seconds} s", f"{render.seconds} s"),
            ("Delivered", delivered(parent), delivered(render)), ("Charged", charged(parent), charged(render)),
            ("Author", parent.author.get_username() if parent.author else None,
             render.author.get_username() if render.author else None)]
    return [(label, a, b, a != b) for label, a, b in rows]


@login_required
@require_GET
def render_compare(request, project_id, render_id):
    membership = get_membership(request.user, project_id)
    render = _get_render(membership, render_id)
    parent = render.remix_of
    context = {"project": membership.project, "membership": membership, "render": render, "parent": parent}
    if parent is not None and not parent.is_deleted:
        # the author too; and only from this project (submit keeps remixes inside one, this keeps the page to it)
        parent = get_in_project(membership, Render.objects.select_related("author"), pk=parent.pk)
        context.update(
            parent=parent,
            sides=[{"label": "Parent", "render": parent, "assets": asset_urls(parent)},
                   {"label": "Remix", "render": render, "assets": asset_urls(render)}],
            diff=word_diff(parent.prompt, render.prompt),
            rows=_settings_rows(parent, render),
        )
    return render_page(request, "renders/render_compare.html", context)
