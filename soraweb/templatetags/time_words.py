"""`{% load time_words %}`, then `{{ when|ago }}`: one wording for "how long ago" on every page ("just now" for
the first minute, never Django's "0 minutes ago"; then "5 min ago", "3 h ago", "2 d ago", then the date)."""

from django import template
from django.utils import timezone

register = template.Library()


def short_age(when, now):
    """"just now", "5 min ago", "3 h ago", "2 d ago", then the date: short enough for a card's footer."""
    seconds = (now - when).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    if seconds < 7 * 86400:
        return f"{int(seconds // 86400)} d ago"
    local = timezone.localtime(when)
    return f"{local.day} {local:%b %Y}" if local.year != timezone.localtime(now).year else f"{local.day} {local:%b}"


@register.filter
def ago(when):
    return short_age(when, timezone.now()) if when else ""
