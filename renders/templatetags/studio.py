"""Template tags of the studio's slow poll (renders/notices.html, included by base.html on every page)."""

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def notice_poll_seconds():
    """How often the slow poll asks for notices: 20 s, unless STUDIO_NOTICE_POLL_SECONDS says otherwise (tests)."""
    return getattr(settings, "STUDIO_NOTICE_POLL_SECONDS", 20)
