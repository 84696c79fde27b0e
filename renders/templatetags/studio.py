"""Template tags of the studio's slow poll (renders/notices.html, included by base.html on every page)."""

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def notice_poll_seconds():
    """How often the slow poll asks for notices, in seconds (STUDIO_NOTICE_POLL_SECONDS)."""
    return settings.STUDIO_NOTICE_POLL_SECONDS
