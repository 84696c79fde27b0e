"""What renders does when something it depends on happens: provider keys announced by providers.signals, and the
RenderEvent that every status move writes. Connected once, from RendersConfig.ready()."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from providers import signals
from renders import keypool, notices
from renders.models import RenderEvent


@receiver(signals.key_available, dispatch_uid="renders.wake_waiting")
def wake_waiting(sender, key, **kwargs):
    """Renders waiting for a key this one may serve try again now; answers how many."""
    return keypool.wake_waiting(key)


@receiver(signals.key_draining, dispatch_uid="renders.in_flight")
def in_flight(sender, key, **kwargs):
    """The renders that finish on a draining key; answers how many."""
    return keypool.in_flight_count(key)


@receiver(signals.waiting_count, dispatch_uid="renders.waiting_count")
def waiting_count(sender, key, **kwargs):
    return keypool.waiting_render_count(key)


@receiver(post_save, sender=RenderEvent, dispatch_uid="renders.notices")
def on_render_event(sender, instance, created, raw=False, **kwargs):
    # Every status move, submit and delete writes a RenderEvent (Render.move), so this sees every change of a
    # render whichever path made it: the project's change marker moves on, and a final move gets its notice,
    # written after the commit (renders.notices).
    if created and not raw:
        notices.on_render_event(instance)
