"""Template tags of the studio: the every-page poll's interval (renders/notices.html, included by base.html on
every page), and why a render in flight is held (a card's and the render page's status). "How long ago" is
soraweb's `time_words`."""

import math

from django import template
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from providers.models import ApiKey, KeyState
from renders.states import IN_FLIGHT, Status

register = template.Library()


@register.simple_tag
def notice_poll_seconds():
    """How often the every-page poll asks for notices, in seconds (STUDIO_NOTICE_POLL_SECONDS)."""
    return settings.STUDIO_NOTICE_POLL_SECONDS


def _held_keys(context):
    """{key id: (paused_until, state)} of the keys that are paused or not active: ONE query per response, kept on
    the request, so a page of cards costs the same whatever their number."""
    request = context.get("request")
    held = getattr(request, "_held_keys", None) if request is not None else None
    if held is None:
        rows = ApiKey.objects.filter(Q(paused_until__gt=timezone.now()) | ~Q(state=KeyState.ACTIVE)).values_list(
            "pk", "paused_until", "state")
        held = {pk: (until, state) for pk, until, state in rows}
        if request is not None:
            request._held_keys = held
    return held


def _in_seconds(when, now):
    return max(1, math.ceil((when - now).total_seconds()))


@register.simple_tag(takes_context=True)
def wait_reason(context, render):
    """Why a render in flight is not moving, in a sentence ("" when nothing holds it): its key paused by the
    provider's rate limit, or refused by the provider; a download waiting for its next try (our own limit of
    requests a minute on the key, or a backoff after a fault)."""
    if render.status not in IN_FLIGHT or not render.api_key_id:
        return ""
    now = timezone.now()
    until, state = _held_keys(context).get(render.api_key_id, (None, KeyState.ACTIVE))
    next_try = render.next_attempt_at if render.next_attempt_at and render.next_attempt_at > now else None
    if until and until > now:
        when = max(until, next_try) if next_try else until
        return f"Waiting for the provider’s rate limit, next try in {_in_seconds(when, now)} s."
    if state in (KeyState.OUT_OF_CREDIT, KeyState.INVALID) and render.status != Status.SENDING:
        return "Waiting for its provider key, which the provider refused, to work again."
    if render.status == Status.DOWNLOADING and next_try and (next_try - now).total_seconds() >= 2:
        return f"Waiting to fetch the video again, next try in {_in_seconds(next_try, now)} s."
    return ""
