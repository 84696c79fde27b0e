"""Key incidents: a key that ran out of credit or turned invalid stops every render that needs it, so people must
hear of it at once, and once.

- Staff see a banner on every page for each key that is out of credit or invalid (read live from the keys).
- Staff get ONE email per incident. An incident opens when a key is found in one of those states with no open
  incident (the one-open-incident-per-key constraint makes two sweeps, or a sweep and a key test, open it once)
  and closes when the key works again or is disabled; its email is claimed by a conditional UPDATE, so it is
  sent once whatever reruns. `sweep()` runs periodically (beat) and right after a key test marks a key.
- Authors of renders waiting for such a key see "waiting for credit" (renders.keypool.credit_waits).
"""

import logging

from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from providers import signals
from providers.models import BROKEN_STATES, ApiKey, KeyIncident, KeyState

log = logging.getLogger(__name__)


# --- opening and closing ---------------------------------------------------------------------------

def open_incident(key):
    """Open the key's incident if it is broken and has none open; returns the new incident, or None. The email is
    enqueued when the transaction commits."""
    if key.state not in BROKEN_STATES or KeyIncident.objects.filter(key=key, resolved_at__isnull=True).exists():
        return None
    try:
        with transaction.atomic():
            incident = KeyIncident.objects.create(key=key, kind=key.state, message=key.last_error[:500])
    except IntegrityError:  # another sweep opened it a moment ago
        return None
    log.warning("key incident %s: key %s is %s", incident.pk, key.pk, key.state)
    transaction.on_commit(lambda: _enqueue_email(incident.pk))
    return incident


def resolve(key, *, by=None, how=""):
    """Close the key's open incident (the key works again, or staff disabled it). Returns whether one was open."""
    return bool(KeyIncident.objects.filter(key=key, resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolved_by=by if by is not None and by.is_authenticated else None,
        resolution=how[:100]))


def sweep():
    """Open incidents for broken keys, close those of keys that are no longer broken, and (re)send emails that
    were never sent (a mail server that was down). Safe to run anywhere, any number of times at once."""
    opened = [incident for key in ApiKey.objects.filter(state__in=BROKEN_STATES)
              if (incident := open_incident(key)) is not None]
    closed = 0
    for incident in KeyIncident.objects.filter(resolved_at__isnull=True).exclude(key__state__in=BROKEN_STATES) \
            .select_related("key"):
        closed += resolve(incident.key, how=f"the key is {incident.key.get_state_display().lower()}")
    unsent = list(KeyIncident.objects.filter(resolved_at__isnull=True, emailed_at__isnull=True)
                  .exclude(pk__in=[i.pk for i in opened]).values_list("pk", flat=True))
    for pk in unsent:
        transaction.on_commit(lambda pk=pk: _enqueue_email(pk))
    return {"opened": len(opened), "closed": closed, "emails_retried": len(unsent)}


def _enqueue_email(incident_id):
    # by name (providers.tasks imports this module); ProvidersConfig.ready registers it in every process
    current_app.tasks["providers.tasks.email_key_incident"].delay(incident_id)


# --- the email -------------------------------------------------------------------------------------

def recipients():
    User = get_user_model()
    return sorted(set(User.objects.filter(is_staff=True, is_active=True).exclude(email="")
                      .values_list("email", flat=True)))


def send_email(incident_id):
    """Email staff about the incident, once: the claim (emailed_at) is a conditional UPDATE, released again if the
    mail cannot be sent so that the next sweep tries again. Returns whether this call sent it."""
    now = timezone.now()
    if not KeyIncident.objects.filter(pk=incident_id, emailed_at__isnull=True, resolved_at__isnull=True).update(
            emailed_at=now):
        return False
    incident = KeyIncident.objects.select_related("key").get(pk=incident_id)
    to = recipients()
    if not to:
        log.warning("key incident %s: no staff user has an email address; the banner is the only notice", incident_id)
        return False
    key = incident.key
    context = {"incident": incident, "key": key, "state": KeyState(incident.kind).label.lower(),
               "url": settings.SITE_URL + reverse("staff_key", kwargs={"key_id": key.pk}),
               "waiting": signals.total(signals.waiting_count, key)}
    message = EmailMultiAlternatives(
        subject=f"[soraweb] Provider key “{key.name}” is {context['state']}",
        body=render_to_string("providers/email/key_incident.txt", context),
        to=to,
    )
    try:
        message.send()
    except Exception:
        log.exception("could not email key incident %s; the next sweep tries again", incident_id)
        KeyIncident.objects.filter(pk=incident_id, emailed_at=now).update(emailed_at=None)
        return False
    return True


# --- what pages show -------------------------------------------------------------------------------

def broken_keys():
    """The keys staff must look at now, with their open incident (if the sweep has opened it yet)."""
    keys = list(ApiKey.objects.filter(state__in=BROKEN_STATES).order_by("name"))
    incidents = {i.key_id: i for i in KeyIncident.objects.filter(key__in=keys, resolved_at__isnull=True)}
    for key in keys:
        key.open_incident = incidents.get(key.pk)
    return keys
