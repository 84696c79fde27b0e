"""The studio: a project's render history with the submit form on top, kept live by two polls.

- the in-flight poll: ONE element for the whole page (data-poll="2"), asking for every in-flight card on the page
  at once (the cards carry their ids as hidden inputs it includes); its answer swaps the cards out of band and
  renders the poll element again, without data-poll once nothing is in flight, which stops it;
- the slow poll of base.html (data-poll="20", renders/notices.html): notices for the user wherever they are and,
  on a studio page, the renders teammates submitted since it loaded.

Every page and poll costs a constant number of queries (renders.history); everything works without JavaScript
(forms post and redirect; the polls are the only things that need it).
"""

import json
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from projects.access import get_in_project, get_membership
from projects.models import Membership, Role
from quotas import services as quotas
from renders import actions, history, notices
from renders.forms import HistoryFilterForm, SubmitForm
from renders.models import Render


def _members(project):
    return list(Membership.objects.filter(project=project).select_related("user").order_by("user__username"))


def _estimate(user, project, model, size, seconds):
    """(Estimate or None, a problem in plain words or "") for the live estimate."""
    sizes = settings.RENDER_MODELS.get(model)
    if sizes is None:
        return None, "Choose a model to see the cost."
    if size not in sizes:
        return None, f"{model} renders only {', '.join(sizes)}."
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        return None, "Choose a length to see the cost."
    if seconds not in settings.RENDER_SECONDS:
        return None, "Choose a length to see the cost."
    try:
        return quotas.estimate(user, project, model=model, size=size, seconds=seconds), ""
    except quotas.UnknownPrice as e:
        return None, str(e)


def _estimate_context(estimate, problem):
    """What the estimate partial shows: the cost, and per limit what is left (formatted by the limit itself)."""
    lines = []
    for limit in estimate.limits if estimate else ():
        if limit.limit is None:
            continue
        if limit.unit == "renders":
            text = f"{limit.used} of {limit.limit}"
        else:
            text = f"{limit.fmt(limit.remaining)} left of {limit.fmt(limit.limit)}"
        lines.append({"label": limit.label, "text": text, "ok": limit.ok})
    return {"estimate": estimate, "estimate_problem": problem, "estimate_lines": lines}


def _form_values(form):
    """The model, size and length the form shows (what was posted, else its initial values)."""
    if form.is_bound:
        return form.data.get("model"), form.data.get("size"), form.data.get("seconds")
    return form.initial.get("model"), form.initial.get("size"), form.initial.get("seconds")


def _initial(model=None, size=None, seconds=None):
    model = model if model in settings.RENDER_MODELS else next(iter(settings.RENDER_MODELS))
    sizes = settings.RENDER_MODELS[model]
    return {"model": model, "size": size if size in sizes else sizes[0],
            "seconds": seconds if seconds in settings.RENDER_SECONDS else settings.RENDER_SECONDS[0]}


def _form_context(request, project, form, **extra):
    model, size, seconds = _form_values(form)
    return {"form": form, **_estimate_context(*_estimate(request.user, project, model, size, seconds)),
            "crop_shown": form.crop_needed, "model_sizes_json": json.dumps(settings.RENDER_MODELS), **extra}


def _filters_of(query):
    """Filters and cursors of a query string (a QueryDict)."""
    form = HistoryFilterForm(query)
    return form.filters(), form.cursor("before"), form.cursor("after")


def _back_url(request, project):
    """Where a plain form post returns to: the page the person is on (HX-Current-URL for an htmx request)."""
    url = request.htmx.current_url_abs_path if request.htmx else request.get_full_path()
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}):
        return url
    return reverse("studio", kwargs={"project_id": project.pk})


def _page(request, membership, *, form=None):
    project = membership.project
    members = _members(project)
    filter_form = HistoryFilterForm(request.GET or None)
    filters = filter_form.filters()
    listing = history.page(project, request.user, filters, before=filter_form.cursor("before"),
                           after=filter_form.cursor("after"))
    context = {"project": project, "membership": membership, "members": members, "filter_form": filter_form,
               "listing": listing, "back_url": request.get_full_path()}
    if request.htmx and request.htmx.target == "history" and not request.htmx.history_restore_request:
        return render(request, "renders/studio.html#history", context)
    context["can_submit"] = membership.has_role(Role.EDITOR) and not project.is_archived
    if context["can_submit"]:
        form = form or SubmitForm(user=request.user, initial=_initial())
        context.update(_form_context(request, project, form))
    # the slow poll of base.html shows teammates' renders newer than this
    context["history_cursor"] = history.latest_id(project)
    return render(request, "renders/studio.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def studio(request, project_id):
    """The project page: GET the history (and the form, for editors); POST submits a render."""
    if request.method == "POST":
        return _submit(request, project_id)
    return _page(request, get_membership(request.user, project_id))


def _submit(request, project_id):
    membership = get_membership(request.user, project_id, Role.EDITOR, write=True)
    project = membership.project
    form = SubmitForm(request.POST, request.FILES, user=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            new = actions.submit(request.user, project, prompt=data["prompt"], model=data["model"],
                                  size=data["size"], seconds=data["seconds"], reference_image=form.reference_file())
        except ValidationError as e:
            for field, errors in e.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except (quotas.QuotaExceeded, quotas.UnknownPrice) as e:
            form.add_error(None, str(e))
        else:
            form.forget()
            return _submitted(request, membership, new)
    form.keep()  # a good image survives the error, so it need not be chosen again
    if request.htmx:
        return render(request, "renders/studio.html#form", {
            "project": project, **_form_context(request, project, form)})
    return _page(request, membership, form=form)


def _submitted(request, membership, new):
    project = membership.project
    label = f"Submitted “{new.prompt[:60]}{'…' if len(new.prompt) > 60 else ''}”."
    if not request.htmx:
        # POST-redirect-GET, back to the page (and filters) the form was on
        messages.success(request, f"{label} It is at the top of the history.")
        return redirect(_back_url(request, project))
    new.author = request.user
    new.is_favourite = False
    history.decorate([new])
    current = urlsplit(request.htmx.current_url_abs_path or "")
    filters, before, after = _filters_of(QueryDict(current.query))
    shown = not before and not after and filters.matches(new, request.user)
    fresh = SubmitForm(user=request.user, initial=_initial(new.model, new.size, new.seconds))
    note = f"{label} It is at the top of the history." if shown else (
        f"{label} Your filters or page hide it: clear them to see it.")
    return render(request, "renders/studio.html#submitted", {
        "project": project, "new": new, "shown": shown, "submitted_note": note, "polling": shown,
        "back_url": _back_url(request, project), **_form_context(request, project, fresh)})


@login_required
@require_GET
def studio_estimate(request, project_id):
    """The live estimate: the cost of the options chosen, and what remains of the user's quota."""
    membership = get_membership(request.user, project_id, Role.EDITOR)
    estimate = _estimate(request.user, membership.project, request.GET.get("model"), request.GET.get("size"),
                         request.GET.get("seconds"))
    return render(request, "renders/studio.html#estimate", {"project": membership.project,
                                                            **_estimate_context(*estimate)})


@login_required
@require_GET
def studio_inflight(request, project_id):
    """The page's one in-flight poll: every card it names (ids), swapped out of band, and the poll element,
    still polling only while one of them is in flight."""
    membership = get_membership(request.user, project_id)
    ids = [int(v) for v in request.GET.getlist("ids") if v.isdigit() and len(v) < 19]
    renders = history.by_ids(membership.project, request.user, ids) if ids else []
    return render(request, "renders/studio.html#inflight_response", {
        "project": membership.project, "renders": renders, "polling": any(r.is_in_flight for r in renders),
        "back_url": _back_url(request, membership.project)})


@login_required
@require_POST
def render_favourite(request, project_id, render_id):
    """Star or unstar a render for the signed-in member (any role: favourites are personal). `favourite=1|0`
    sets the state (a replayed POST changes nothing more); without it the star toggles. htmx gets the star
    back; a plain form post goes back where it came from."""
    membership = get_membership(request.user, project_id)
    target = get_in_project(membership, Render.objects.visible(), pk=render_id)
    wanted = request.POST.get("favourite")
    on = wanted == "1" if wanted in ("0", "1") else not history.is_favourite(request.user, target)
    target.is_favourite = history.set_favourite(request.user, target, on)
    if request.htmx:
        return render(request, "renders/studio.html#star", {"render": target, "back_url": _back_url(
            request, membership.project)})
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("studio", kwargs={"project_id": membership.project_id})
    return redirect(back)


def _studio_of(url):
    """(project_id, QueryDict) when `url` (a path and query) is a studio page, else None."""
    if not url:
        return None
    parts = urlsplit(url)
    try:
        match = resolve(parts.path)
    except Resolver404:
        return None
    if match.url_name != "studio":
        return None
    return match.kwargs["project_id"], QueryDict(parts.query)


@login_required
@require_GET
def notices_poll(request):
    """The slow poll of every page: the user's unseen notices; on a studio page (HX-Current-URL), also the
    renders teammates submitted since the page loaded (ids above `after`) that the page's filters admit."""
    shown = notices.unseen(request.user)
    notices.mark_seen(shown)
    context = {"notices": shown, "new_cards": [], "polling": False, "history_cursor": None}
    after = request.GET.get("after", "")
    after = int(after) if after.isdigit() and len(after) < 19 else None
    studio_page = _studio_of(request.htmx.current_url_abs_path) if request.htmx and after is not None else None
    if studio_page is not None:
        project_id, query = studio_page
        context["history_cursor"] = after
        try:
            membership = get_membership(request.user, project_id)
        except (Http404, PermissionDenied):
            membership = None
        filters, before, page_after = _filters_of(query)
        if membership is not None and not before and not page_after:
            new_cards = history.newer_from_teammates(membership.project, request.user, filters, after)
            context.update(project=membership.project, new_cards=new_cards,
                           polling=any(r.is_in_flight for r in new_cards),
                           history_cursor=max([after] + [r.pk for r in new_cards]))
            context["back_url"] = reverse("studio", kwargs={"project_id": project_id}) + (
                "?" + query.urlencode() if query else "")
    return render(request, "renders/notices.html#poll_response", context)
