"""The audit log: who changed which provider key, allowance, budget or project role, and when.

    audit.record(actor, "key.disabled", key, "was active")

Key actions done through the staff pages call `record` themselves (state changes are conditional UPDATEs, which
send no signals). Saves of keys, allowances, budgets and memberships are recorded by the signal receivers below,
whoever makes them (the staff pages, the Django admin, projects.services.change_role, a management command): the
actor is the user of the current request, which AuditActorMiddleware puts in a context variable, or "system".

Secrets never reach the log: a replaced secret is recorded as "replaced (now ••••last4)".
"""

import contextlib
from contextvars import ContextVar

from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_init, post_save

from projects.models import Project
from providers.models import AuditEntry

_actor = ContextVar("audit_actor", default=None)

SYSTEM = "system"


# --- who is acting ---------------------------------------------------------------------------------

class AuditActorMiddleware:
    """Makes the request's user the actor of every audit entry written while the request runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _actor.set(getattr(request, "user", None))
        try:
            return self.get_response(request)
        finally:
            _actor.reset(token)


@contextlib.contextmanager
def acting_as(user):
    """The actor of entries written inside the block (outside a request, e.g. a command or a test)."""
    token = _actor.set(user)
    try:
        yield
    finally:
        _actor.reset(token)


def _resolve(actor):
    actor = actor if actor is not None else _actor.get()
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None, SYSTEM
    return actor.pk, actor.get_username()


# --- writing ---------------------------------------------------------------------------------------

TARGET_TYPES = {"providers.apikey": "key", "quotas.userallowance": "allowance", "quotas.projectbudget": "budget",
                "projects.membership": "role"}


def record(actor, action, target, detail="", *, target_type=None, target_id=None):
    """Write one entry. `actor`: a user, or None for the current request's user (else "system"). `target`: a
    model instance (its type, id and name are taken from it) or a label."""
    if isinstance(target, models.Model):
        target_type = target_type or TARGET_TYPES.get(target._meta.label_lower, target._meta.model_name)
        target_id = target.pk if target_id is None else target_id
        target = _label(target)
    actor_id, actor_name = _resolve(actor)
    return AuditEntry.objects.create(actor_id=actor_id, actor_name=actor_name, action=action,
                                     target_type=target_type or "", target_id=target_id, target=str(target)[:200],
                                     detail=detail)


def entries_for(obj):
    return AuditEntry.objects.filter(target_type=TARGET_TYPES.get(obj._meta.label_lower), target_id=obj.pk)


def _label(obj):
    label = obj._meta.label_lower
    if label == "providers.apikey":
        return f"key “{obj.name}”"
    if label == "quotas.userallowance":
        return f"allowance of {obj.user.get_username()}"
    if label == "quotas.projectbudget":
        return f"budget of {obj.project.name}"
    if label == "projects.membership":
        return f"{obj.user.get_username()} in {obj.project.name}"
    return str(obj)


# --- saves, recorded by signals --------------------------------------------------------------------
# Each audited model remembers the values it was loaded with (post_init, no extra query); post_save compares.

WATCHED = {
    "providers.ApiKey": ("name", "provider", "base_url", "secret_encrypted", "webhook_secret_encrypted",
                         "rpm_limit", "max_concurrent", "can_remix_endpoint", "can_remix_by_create", "has_webhooks",
                         "state", "auth_header", "preset", "model_table", "reference_as", "has_list_endpoint",
                         "prices"),
    "quotas.UserAllowance": ("monthly_seconds", "monthly_spend_usd", "concurrent_renders"),
    "quotas.ProjectBudget": ("monthly_budget_usd",),
    "projects.Membership": ("role",),
}
SECRETS = {"secret_encrypted": ("API key", "secret_last4"),
           "webhook_secret_encrypted": ("webhook secret", "webhook_secret_last4")}


def _snapshot(sender, instance, **kwargs):
    loaded = instance.__dict__  # deferred fields are not in it: they are left out of the comparison
    instance._audit_loaded = {name: loaded[name] for name in WATCHED[sender._meta.label] if name in loaded}


LABELS = {"base_url": "base URL", "rpm_limit": "requests per minute", "max_concurrent": "jobs at once",
          "can_remix_endpoint": "remix by endpoint", "can_remix_by_create": "remix by create",
          "has_webhooks": "webhooks", "auth_header": "key header", "reference_as": "reference image sent as",
          "has_list_endpoint": "list endpoint", "monthly_spend_usd": "monthly spend (USD)",
          "monthly_budget_usd": "monthly budget (USD)"}


def _name(instance, field):
    return LABELS.get(field) or str(instance._meta.get_field(field).verbose_name)


def _show(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "default" if value in (None, "", {}) else str(value)


def _changes(instance, fields):
    before = getattr(instance, "_audit_loaded", {})
    changes = []
    for name in fields:
        if name not in before:
            continue
        old, new = before[name], getattr(instance, name)
        if old == new:
            continue
        if name == "prices":
            changes.extend(price_changes(old, new))
        elif name in SECRETS:
            what, last4_field = SECRETS[name]
            last4 = getattr(instance, last4_field)
            changes.append(f"{what} replaced (now ••••{last4})" if new else f"{what} removed")
        else:
            changes.append(f"{_name(instance, name)}: {_show(old)} → {_show(new)}")
    return changes


def _price(prices, model, size):
    value = (prices or {}).get(model, {}).get(size)
    return f"${value} a second" if value not in (None, "") else "default"


def price_changes(old, new):
    """"price of sora-2-pro at 1280x720: default → $0.35 a second", one per model and size whose price changed."""
    pairs = {(model, size) for prices in (old or {}, new or {}) for model, sizes in prices.items()
             if isinstance(sizes, dict) for size in sizes}
    return [f"price of {model} at {size}: {_price(old, model, size)} → {_price(new, model, size)}"
            for model, size in sorted(pairs) if _price(old, model, size) != _price(new, model, size)]


def _saved(sender, instance, created, update_fields=None, **kwargs):
    if kwargs.get("raw"):
        return  # fixtures being loaded
    fields = WATCHED[sender._meta.label]
    if update_fields is not None:
        fields = [name for name in fields if name in update_fields]
    kind = TARGET_TYPES[sender._meta.label_lower]
    if created:
        if kind == "role":
            record(None, "role.granted", instance, f"{instance.get_role_display().lower()} of {instance.project.name}")
        elif kind == "key":
            record(None, "key.added", instance, "; ".join([
                f"{instance.base_url}, API key ••••{instance.secret_last4}", *price_changes({}, instance.prices)]))
        else:
            record(None, f"{kind}.set", instance, "; ".join(
                f"{_name(instance, n)}: {_show(getattr(instance, n))}" for n in fields))
    else:
        changes = _changes(instance, fields)
        if changes:
            record(None, f"{kind}.changed", instance, "; ".join(changes))
    _snapshot(sender, instance)


def _deleted(sender, instance, **kwargs):
    kind = TARGET_TYPES[sender._meta.label_lower]
    action = {"role": "role.removed", "key": "key.deleted"}.get(kind, f"{kind}.removed")
    if kind == "role":
        detail = f"was {instance.get_role_display().lower()}"
    elif kind == "key":
        detail = f"was ••••{instance.secret_last4}"
    else:
        detail = "back to the site defaults"
    try:
        label = _label(instance)
    except models.ObjectDoesNotExist:  # the related user or project is being deleted with it
        label = f"{kind} {instance.pk}"
    record(None, action, label, detail, target_type=kind, target_id=instance.pk)


def _key_projects_changed(sender, instance, action, pk_set, **kwargs):
    if action == "pre_clear":
        instance._audit_cleared = list(instance.projects.values_list("name", flat=True))
        return
    if action not in ("post_add", "post_remove", "post_clear") or kwargs.get("reverse"):
        return
    names = (instance.__dict__.pop("_audit_cleared", []) if action == "post_clear"
             else list(Project.objects.filter(pk__in=pk_set or []).values_list("name", flat=True)))
    if not names:
        return
    verb = "now also serves" if action == "post_add" else "no longer serves"
    record(None, "key.projects", instance, f"{verb}: {', '.join(sorted(names))}")


# lazy model references ("app.Model"): connected whatever order the apps load in
for _label_ in WATCHED:
    post_init.connect(_snapshot, sender=_label_, weak=False, dispatch_uid=f"audit:{_label_}")
    post_save.connect(_saved, sender=_label_, weak=False, dispatch_uid=f"audit:{_label_}")
    post_delete.connect(_deleted, sender=_label_, weak=False, dispatch_uid=f"audit:{_label_}")
m2m_changed.connect(_key_projects_changed, sender="providers.ApiKey_projects", weak=False,
                    dispatch_uid="audit:key-projects")
