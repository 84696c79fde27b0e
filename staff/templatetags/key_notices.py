"""{% key_notices as notices %}: what templates/staff/key_notices.html shows on every page. A tag, not a context
processor: it runs only when a full page is rendered, never for the htmx partials that poll."""

from django import template

from providers import incidents
from renders import keypool

register = template.Library()


@register.simple_tag(takes_context=True)
def key_notices(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "broken_keys": incidents.broken_keys() if user.is_staff else [],
        "credit_waits": keypool.credit_waits(user),
    }
