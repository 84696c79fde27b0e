"""Staff pages for provider keys: list (health, rate-limit headroom), add, edit, enable, disable, drain, top-up
acknowledged, live test. One screen, one function view; non-staff get 403 (signed out: the sign-in page). Secrets are
write-only: no page ever shows more than their last 4 characters."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from providers import audit, detect, keyadmin, presets
from providers.keyadmin import KeyActionRefused
from providers.models import ApiKey, KeyState
from staff import stats
from staff.access import staff_only
from staff.forms import KeyForm, KeyPriceForm, price_rows
from staff.health import key_health

SECRET_FIELDS = ("secret", "webhook_secret")
SPEND_DAYS = 30  # as the dashboard's spend


def _key(key_id):
    return get_object_or_404(ApiKey, pk=key_id)


@login_required
@staff_only
@require_GET
def key_list(request):
    keys = ApiKey.objects.prefetch_related("projects").order_by("name")
    return render(request, "staff/key_list.html", {"keys": [key_health(key) for key in keys]})


@sensitive_post_parameters(*SECRET_FIELDS)
@login_required
@staff_only
@require_http_methods(["GET", "POST"])
def key_add(request):
    form = KeyForm(request.POST or None, preset=request.GET.get("preset"))
    prices = KeyPriceForm(request.POST or None, key=ApiKey())  # a key offers everything until its models say
    if request.method == "POST" and all([form.is_valid(), prices.is_valid()]):
        key, woken = keyadmin.add_key(form, request.user, prices.prices())
        resumed = f" {woken} waiting render(s) will try it now." if woken else ""
        messages.success(request, f"Added {key.name} (API key ••••{key.secret_last4}).{resumed}")
        return redirect("staff_key", key_id=key.pk)
    return render(request, "staff/key_form.html",
                  {"form": form, "prices": prices, "key": None, "presets": presets.PRESETS.values()},
                  status=400 if form.errors or prices.errors else 200)


@login_required
@staff_only
@require_GET
def key_detail(request, key_id):
    key = _key(key_id)
    test = key.tests.select_related("requested_by").first()
    if request.htmx and request.htmx.target == "key-test":
        # the test result's poller: the final answer renders the element without its poll (it removes itself)
        return render(request, "staff/key_detail.html#key_test", {"key": key, "test": test})
    return render(request, "staff/key_detail.html", {
        "key": key,
        "health": key_health(key),
        "test": test,
        "entries": audit.entries_for(key)[:20],
        "incidents": key.incidents.select_related("resolved_by")[:10],
        "in_flight": key.renders.in_flight().count(),
        "spend": stats.key_spend(key, since=timezone.now() - timedelta(days=SPEND_DAYS)),
        "spend_days": SPEND_DAYS,
        "KeyState": KeyState,
        "price_rows": price_rows(key),
    })


@sensitive_post_parameters(*SECRET_FIELDS)
@login_required
@staff_only
@require_http_methods(["GET", "POST"])
def key_edit(request, key_id):
    key = _key(key_id)
    prices = KeyPriceForm(request.POST or None, key=key)  # first: its rows are what the key offers as saved
    form = KeyForm(request.POST or None, instance=key, preset=request.GET.get("preset"))
    if request.method == "POST" and all([form.is_valid(), prices.is_valid()]):
        if not form.has_changed() and not prices.has_changed():
            messages.info(request, "Nothing changed.")
        else:
            keyadmin.update_key(form, request.user, prices.prices())
            messages.success(request, f"Saved {key.name}.")
        return redirect("staff_key", key_id=key.pk)
    return render(request, "staff/key_form.html", {"form": form, "prices": prices, "key": key},
                  status=400 if form.errors or prices.errors else 200)


def _key_action(request, key_id, action, done):
    key = _key(key_id)
    try:
        result = action(key, request.user)
    except KeyActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done(key, result))
    return redirect("staff_key", key_id=key.pk)


def _resumed(woken):
    return f" {woken} waiting render(s) resumed." if woken else ""


@login_required
@staff_only
@require_POST
def key_enable(request, key_id):
    return _key_action(request, key_id, keyadmin.enable,
                       lambda key, woken: f"{key.name} is active: it takes new renders.{_resumed(woken)}")


@login_required
@staff_only
@require_POST
def key_disable(request, key_id):
    return _key_action(request, key_id, keyadmin.disable,
                       lambda key, _: f"{key.name} is disabled: no new renders; jobs already on it still finish.")


@login_required
@staff_only
@require_POST
def key_drain(request, key_id):
    return _key_action(request, key_id, keyadmin.drain,
                       lambda key, n: f"{key.name} is draining: {n} render(s) in flight finish on it; new renders go "
                                      "to the other keys of its pool.")


@login_required
@staff_only
@require_POST
def key_top_up(request, key_id):
    return _key_action(request, key_id, keyadmin.acknowledge_top_up,
                       lambda key, woken: f"Top-up acknowledged: {key.name} takes renders again.{_resumed(woken)}")


@login_required
@staff_only
@require_POST
def key_test(request, key_id):
    key = _key(key_id)
    test = keyadmin.start_test(key, request.user)
    if request.htmx:
        return render(request, "staff/key_detail.html#key_test", {"key": key, "test": test})
    messages.info(request, "Testing the key: the result appears below when a worker has made the call.")
    return redirect("staff_key", key_id=key.pk)


@login_required
@staff_only
@require_http_methods(["GET", "POST"])
def key_detect(request, key_id):
    """GET: the latest detection (its poller, with htmx); POST: probe the key again (reads only)."""
    key = _key(key_id)
    if request.method == "POST":
        detection = detect.start(key, request.user)
        if not request.htmx:
            messages.info(request, "Detecting: the findings appear below when a worker has probed the key.")
            return redirect("staff_key_detect", key_id=key.pk)
    else:
        detection = key.detections.first()
    context = {"key": key, "detection": detection, "preset": presets.get(key.preset),
               "changes": _proposed_changes(key, detection), "price_rows": price_rows(key)}
    if request.htmx and (request.method == "POST" or request.htmx.target == "key-detect"):
        return render(request, "staff/key_detect.html#key_detect", context)
    return render(request, "staff/key_detect.html", context)


def _proposed_changes(key, detection):
    if not detection or not detection.proposal:
        return []
    return [{"field": FIELD_WORDS.get(name, name), "now": _words(name, now), "proposed": _words(name, proposed)}
            for name, now, proposed in detect.changes(key, detection.proposal)]


FIELD_WORDS = {"preset": "Preset", "provider": "Provider", "base_url": "Base URL", "auth_header": "Key header",
               "has_list_endpoint": "List endpoint", "has_webhooks": "Webhooks",
               "can_remix_endpoint": "Remix by endpoint", "can_remix_by_create": "Remix by create",
               "reference_as": "Reference image sent as"}


def _words(name, value):
    if name == "preset":
        return presets.get(value).label
    if name == "auth_header":
        return value or "Authorization: Bearer"
    if name == "reference_as":
        return "a data URL (JSON)" if value == "image_url" else "a file upload"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


@login_required
@staff_only
@require_POST
def key_detect_apply(request, key_id, detection_id):
    key = _key(key_id)
    detection = get_object_or_404(key.detections, pk=detection_id, outcome="done")
    try:
        key, fields = detect.apply(detection, request.user)
    except detect.DetectionOutdated as exc:
        messages.error(request, str(exc))
        return redirect("staff_key_detect", key_id=key.pk)
    if fields:
        messages.success(request, f"Applied the detected profile to {key.name}.")
    else:
        messages.info(request, f"{key.name} already has the detected profile.")
    return redirect("staff_key", key_id=key.pk)
