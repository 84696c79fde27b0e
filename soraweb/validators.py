"""Validators for model fields (soraweb.outbound has the rules and no Django)."""

from django.conf import settings
from django.core.exceptions import ValidationError

from soraweb import outbound


def validate_outbound_url(value):
    """A URL the site will call itself (a provider's base URL, an outbound webhook endpoint): https to public
    addresses only, the host name resolved now; OUTBOUND_ALLOW_PRIVATE also allows local servers."""
    try:
        outbound.check_url(value, allow_private=settings.OUTBOUND_ALLOW_PRIVATE)
    except outbound.Refused as exc:
        message = str(exc)
        raise ValidationError(message[:1].upper() + message[1:] + ".", code="outbound_url") from None
