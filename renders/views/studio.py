"""The studio: a project's render history with the submit form on top, kept live by two polls.

- the in-flight poll: ONE element for the whole page (data-poll="2"), asking about every in-flight card on the
  page at once (the cards carry `<id>:<status>:<progress>` in hidden inputs it includes); its answer swaps the
  cards that changed out of band and renders the poll element again, without data-poll once nothing is in
  flight, which stops it;
- the every-page poll of base.html (STUDIO_NOTICE_POLL_SECONDS, 2 s; renders/notices.html): notices for the user
  wherever they are and, on a studio page, the renders teammates submitted since it loaded.

Both follow one protocol: the page sends the project's change marker it last saw (Project.revision); while it is
unchanged the answer is 204 and no body, after one indexed query; otherwise only what changed comes back.

Every page and poll costs a constant number of queries (renders.history); everything works without JavaScript
(forms post and redirect; the polls are the only things that need it).
"""

import json
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from projects.access import get_in_project, get_membership
from projects.models import Membership, Role
from quotas import services as quotas
from renders import actions, history, keypool, notices, watching
from renders.forms import HistoryFilterForm, SubmitForm
from renders.models import Render
from renders.states import IN_FLIGHT
from soraweb import ratelimits


def _members(project):
    return list(Membership.objects.filter(project=project).select_related("user").order_by("user__username"))


def _estimate(user, project, values, offer):
    """(Estimate or None, a problem in plain words or "") for the live estimate of the options in `values` (the
    form's data or initial values, or a poll's query): model, size, length and the number of variations, among
    what the project's keys offer (`offer`, renders.keypool.offer)."""
    model, size, seconds = values.get("model"), values.get("size"), values.get("seconds")
    count = str(values.get("variations") or 1)
    count = int(count) if count in {str(n) for n in range(1, actions.MAX_VARIATIONS + 1)} else 1
    if model not in offer.models:
        return None, "Choose a model to see the cost."
    if size not in offer.sizes(model):
        return None, offer.refusal(model, size, None)["size"]
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        return None, "Choose a length to see the cost."
    if seconds not in offer.seconds():
        return None, "Choose a length to see the cost."
    if refused := offer.refusal(model, size, seconds):
        return None, refused["seconds"]
    try:
        keys = keypool.serving_keys(project.pk, model, size, seconds)  # what submit reserves at: the dearest
        return quotas.estimate(user, project, model=model, size=size, seconds=seconds, count=count, keys=keys), ""
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


def _initial(offer, model=None, size=None, seconds=None):
    """The form's starting options: those given where the project's keys offer them, else the first offered."""
    model = model if model in offer.models else offer.models[0]
    sizes = offer.sizes(model)
    size = size if size in sizes else sizes[0]
    lengths = offer.seconds(model, size)
    return {"model": model, "size": size, "seconds": seconds if seconds in lengths else lengths[0]}


def _form_context(request, project, form, **extra):
    values = form.data if form.is_bound else form.initial  # what was posted, else what the form starts with
    return {"form": form, **_estimate_context(*_estimate(request.user, project, values, form.offer)),
            "crop_shown": form.crop_needed, "model_sizes_json": json.dumps(form.offer.sizes_json()),
            "model_lengths_json": json.dumps(form.offer.table), **extra}


def _reused(request, project, offer):
    """The form's initial values from `?use=<render id>`: "Use this prompt" on a card, without JavaScript (with it,
    studio.js fills the form in place). None when there is no such render in the project."""
    use = request.GET.get("use", "")
    if not use.isdigit() or len(use) > 18:
        return None
    row = Render.objects.visible().filter(project=project, pk=int(use)).values(
        "prompt", "model", "size", "seconds").first()
    if row is None:
        return None
    return {**_initial(offer, row["model"], row["size"], row["seconds"]), "prompt": row["prompt"]}


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
        offer = form.offer if form else keypool.offer(project.pk)
        form = form or SubmitForm(user=request.user, offer=offer,
                                  initial=_reused(request, project, offer) or _initial(offer))
        context.update(_form_context(request, project, form))
    # the every-page poll of base.html shows teammates' renders newer than this
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
    refused = ratelimits.count("submit", request.user)
    if refused and not request.htmx:
        return ratelimits.too_many(request, refused)
    # refused: the form comes back with what was typed and the refusal where its errors show (no image is read)
    form = SubmitForm(request.POST, None if refused else request.FILES, user=request.user,
                      offer=keypool.offer(project.pk))
    if refused:
        form.add_error(None, refused.message)
    elif form.is_valid():
        data = form.cleaned_data
        try:
            group = actions.submit_variations(
                request.user, project, data["variations"], prompt=data["prompt"], model=data["model"],
                size=data["size"], seconds=data["seconds"], reference_image=form.reference_file())
        except ValidationError as e:
            for field, errors in e.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except (quotas.QuotaExceeded, quotas.UnknownPrice) as e:
            form.add_error(None, str(e))
        else:
            form.forget()
            for variation in group:  # the cards of the whole group come back with the answer (the first is `new`)
                variation.author, variation.is_favourite = request.user, False
            new = group[0]
            new.submitted_group = history.decorate(group)
            return _submitted(request, membership, new, form.offer)
    form.keep()  # a good image survives the error, so it need not be chosen again
    if refused:
        return ratelimits.too_many(request, refused, "renders/studio.html#form", {
            "project": project, **_form_context(request, project, form)})
    if request.htmx:
        return render(request, "renders/studio.html#form", {
            "project": project, **_form_context(request, project, form)})
    return _page(request, membership, form=form)


def _submitted(request, membership, new, offer=None):
    project = membership.project
    what = f"{new.variation_count} variations of " if new.variation_count > 1 else ""
    label = f"Submitted {what}“{new.prompt[:60]}{'…' if len(new.prompt) > 60 else ''}”."
    if not request.htmx:
        # POST-redirect-GET, back to the page (and filters) the form was on
        messages.success(request, f"{label} It is at the top of the history.")
        return redirect(_back_url(request, project))
    new.author = request.user
    new.is_favourite = False
    history.decorate([new])
    # every card of the submit (one, or the renders of a variations group), newest first as the history lists them
    cards = sorted(getattr(new, "submitted_group", None) or [new], key=lambda r: r.pk, reverse=True)
    current = urlsplit(request.htmx.current_url_abs_path or "")
    filters, before, after = _filters_of(QueryDict(current.query))
    shown = not before and not after and filters.matches(new, request.user)
    # the prompt stays in the box, with the options: "tweak the prompt and go again" is the common next step
    offer = offer or keypool.offer(project.pk)  # the submit's own, when it made one: the keys have not changed since
    fresh = SubmitForm(user=request.user, offer=offer, initial={
        **_initial(offer, new.model, new.size, new.seconds), "prompt": new.prompt,
        "variations": new.variation_count or 1})
    note = f"{label} It is at the top of the history." if shown else (
        f"{label} Your filters or page hide it: clear them to see it.")
    return render(request, "renders/studio.html#submitted", {
        "project": project, "new": new, "submitted_cards": cards, "shown": shown, "submitted_note": note,
        "polling": shown, "can_submit": True, "new_card_id": f"render-{cards[0].pk}" if shown else "",
        "back_url": _back_url(request, project),
        **_form_context(request, project, fresh)})


@login_required
@require_GET
def studio_estimate(request, project_id):
    """The live estimate: the cost of the options chosen, and what remains of the user's quota."""
    membership = get_membership(request.user, project_id, Role.EDITOR)
    estimate = _estimate(request.user, membership.project, request.GET, keypool.offer(membership.project_id))
    return render(request, "renders/studio.html#estimate", {"project": membership.project,
                                                            **_estimate_context(*estimate)})


@login_required
@require_GET
def studio_inflight(request, project_id):
    """The page's one in-flight poll, on the protocol of the every-page poll. The page names its in-flight cards
    as `ids=<id>:<status>:<progress>` (what each card shows) and the project's change marker it last saw
    (`revision`). ONE query reads the cards' states and the marker (history.poll_states) and marks them watched
    (the worker then asks the provider for their progress); an unchanged marker answers 204 and no body. Else the
    cards whose state differs from what the page shows come back out of band, with the poll element, its marker
    moved on, still polling only while one of them is in flight. A bare `<id>` is a card in an unknown state."""
    shown = {}
    for value in request.GET.getlist("ids"):
        pk, _, state = value.partition(":")
        if pk.isdigit() and len(pk) < 19:
            shown[int(pk)] = state
    seen = _poll_number(request.GET.get("revision", ""))
    states = history.poll_states(project_id, request.user, shown) if shown else []
    watching.watch(states)  # on screen: the worker asks the provider for their progress while this page polls
    if states and seen is not None and states[0].revision == seen:
        return HttpResponse(status=204)  # nothing of the project changed since the page last heard
    membership = get_membership(request.user, project_id)
    changed = [r.pk for r in states if shown[r.pk] != f"{r.status}:{r.progress}"]
    renders = history.by_ids(membership.project, request.user, changed) if changed else []
    can_submit = membership.has_role(Role.EDITOR) and not membership.project.is_archived
    context = {"project": membership.project, "renders": renders, "can_submit": can_submit,
               "polling": any(r.status in IN_FLIGHT for r in states),
               # the marker read BEFORE the cards: a change made in between comes with the next poll again
               "history_revision": states[0].revision if states else membership.project.revision,
               "back_url": _back_url(request, membership.project)}
    # the page asks only about cards in flight: one that is not any more has just finished
    finished = any(not r.is_in_flight for r in renders)
    if finished and can_submit and "model" in request.GET:
        # the estimate's "Renders in flight" and what is left of the quota changed: show them again, for the
        # options the form has now (the poll includes them)
        context["estimate_oob"] = True
        context.update(_estimate_context(*_estimate(request.user, membership.project, request.GET,
                                                    keypool.offer(membership.project_id))))
    response = render(request, "renders/studio.html#inflight_response", context)
    if finished:
        response["HX-Trigger"] = "renders-finished"  # app.js asks for the notices now, not at the next every-page poll
    return response


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


def _poll_number(value):
    return int(value) if value.isdigit() and len(value) < 19 else None


@login_required
@require_GET
def notices_poll(request):
    """The every-page poll (base.html, every STUDIO_NOTICE_POLL_SECONDS): the user's unseen notices; on a studio
    page (HX-Current-URL), also the renders teammates submitted since the page loaded (ids above `after`) that the
    page's filters admit, with the page's in-flight poll switched on to follow them.

    A studio page sends the project's change marker it last saw (`revision`): while it is the project's and the
    user has no unseen notice, the answer is 204 with no body (htmx leaves the page alone) after ONE query
    (notices.changes), so every open page can ask every few seconds."""
    after = _poll_number(request.GET.get("after", ""))
    seen = _poll_number(request.GET.get("revision", ""))
    studio_page = _studio_of(request.htmx.current_url_abs_path) if request.htmx and after is not None else None
    revision, unseen = notices.changes(request.user, studio_page[0] if studio_page else None)
    if not unseen and (revision is None or revision == seen):
        return HttpResponse(status=204)
    shown = notices.unseen(request.user) if unseen else []
    notices.mark_seen(shown)
    context = {"notices": shown, "new_cards": [], "polling": False, "history_cursor": None}
    if studio_page is not None and revision is not None:
        project_id, query = studio_page
        # the marker read BEFORE the renders: a change made in between comes with the next poll again
        context.update(history_cursor=after, history_revision=revision)
        filters, before, page_after = _filters_of(query)
        try:
            # an unchanged project has no new card (only a notice came); an older page shows none at its top
            wanted = revision != seen and not before and not page_after
            membership = get_membership(request.user, project_id) if wanted else None
        except (Http404, PermissionDenied):  # left the project since the marker was read
            membership = None
        if membership is not None:
            new_cards = history.newer_from_teammates(membership.project, request.user, filters, after)
            context.update(project=membership.project, new_cards=new_cards,
                           can_submit=membership.has_role(Role.EDITOR) and not membership.project.is_archived,
                           polling=any(r.is_in_flight for r in new_cards),
                           history_cursor=max([after] + [r.pk for r in new_cards]))
            context["back_url"] = reverse("studio", kwargs={"project_id": project_id}) + (
                "?" + query.urlencode() if query else "")
    return render(request, "renders/notices.html#poll_response", context)
