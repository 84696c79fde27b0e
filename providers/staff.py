"""Staff pages for provider keys: list (health, rate-limit headroom), add, edit, enable, disable, drain, top-up
acknowledged, live test; and the audit log. One screen, one function view; non-staff get 403 (signed out: the
sign-in page). Secrets are write-only: no page ever shows more than their last 4 characters."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from providers import audit, incidents, keyadmin, limiter
from providers.audit import AuditEntry
from providers.forms import KeyForm
from providers.keyadmin import KeyActionRefused
from providers.models import ApiKey, KeyState

SECRET_FIELDS = ("secret", "webhook_secret")


def staff_only(view):
    """After login_required: 403 for signed-in people who are not staff (the page's existence is no secret)."""
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied("Only staff can see this page.")
        return view(request, *args, **kwargs)
    return wrapper


def key_health(key):
    """What the key list and the dashboard show for one key: its state, the limiter's headroom, its incident."""
    use = limiter.usage(key.pk)
    rpm, jobs = use["rpm_limit"], use["max_concurrent"]
    return {
        "key": key,
        "usage": use,
        "requests_left": max(rpm - use["requests_last_minute"], 0) if rpm else None,
        "jobs_left": max(jobs - use["jobs_in_flight"], 0) if jobs else None,
        "paused_until": use["paused_until"],
        "takes_new_work": key.takes_new_work,
        "broken": key.state in incidents.BROKEN_STATES,
        "projects": list(key.projects.all()),
        "incident": key.incidents.filter(resolved_at__isnull=True).first(),
    }


def _key(key_id):
    return get_object_or_404(ApiKey, pk=key_id)


@login_required
@staff_only
@require_GET
def key_list(request):
    keys = ApiKey.objects.prefetch_related("projects").order_by("name")
    return render(request, "providers/key_list.html", {"keys": [key_health(key) for key in keys]})


@sensitive_post_parameters(*SECRET_FIELDS)
@login_required
@staff_only
@require_http_methods(["GET", "POST"])
def key_add(request):
    form = KeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        key, woken = keyadmin.add_key(form, request.user)
        resumed = f" {woken} waiting render(s) will try it now." if woken else ""
        messages.success(request, f"Added {key.name} (API key ••••{key.secret_last4}).{resumed}")
        return redirect("staff_key", key_id=key.pk)
    return render(request, "providers/key_form.html", {"form": form, "key": None}, status=400 if form.errors else 200)


@login_required
@staff_only
@require_GET
def key_detail(request, key_id):
    key = _key(key_id)
    test = key.tests.select_related("requested_by").first()
    if request.htmx and request.htmx.target == "key-test":
        # the test result's poller: the final answer renders the element without its poll (it removes itself)
        return render(request, "providers/key_detail.html#key_test", {"key": key, "test": test})
    return render(request, "providers/key_detail.html", {
        "key": key,
        "health": key_health(key),
        "test": test,
        "entries": audit.entries_for(key)[:20],
        "incidents": key.incidents.select_related("resolved_by")[:10],
        "in_flight": key.renders.in_flight().count(),
        "KeyState": KeyState,
    })


@sensitive_post_parameters(*SECRET_FIELDS)
@login_required
@staff_only
@require_http_methods(["GET", "POST"])
def key_edit(request, key_id):
    key = _key(key_id)
    form = KeyForm(request.POST or None, instance=key)
    if request.method == "POST" and form.is_valid():
        if not form.has_changed():
            messages.info(request, "Nothing changed.")
        else:
            keyadmin.update_key(form, request.user)
            messages.success(request, f"Saved {key.name}.")
        return redirect("staff_key", key_id=key.pk)
    return render(request, "providers/key_form.html", {"form": form, "key": key}, status=400 if form.errors else 200)


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
        return render(request, "providers/key_detail.html#key_test", {"key": key, "test": test})
    messages.info(request, "Testing the key: the result appears below when a worker has made the call.")
    return redirect("staff_key", key_id=key.pk)


@login_required
@staff_only
@require_GET
def audit_log(request):
    entries = AuditEntry.objects.select_related("actor")
    kind = request.GET.get("type", "")
    if kind in {"key", "allowance", "budget", "role"}:
        entries = entries.filter(target_type=kind)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(request, "providers/audit_log.html", {"page": page, "type": kind,
                                                        "types": ["key", "allowance", "budget", "role"]})

