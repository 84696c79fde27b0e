r"""A render's statuses and the legal moves between them: the one place that says what may follow what.

    submitting --> sending --> queued --> in_progress --> downloading --> completed
        |   ^        |  \________________________________/      |
        v   |        v              (provider news may skip ahead)
        waiting <----'  (the create was refused before the provider accepted it: try again later)
    submitting, waiting       --> canceled   (only before the create is sent: an accepted job is billed)
    every status but the final ones --> failed

Moves only go forward, so news that arrives out of order (an old poll answer after a webhook, a duplicate
delivery) is simply not a legal move and changes nothing.
"""

from django.db import models


class Status(models.TextChoices):
    SUBMITTING = "submitting", "Submitting"  # accepted by us; the create is not sent yet (cancelable)
    WAITING = "waiting", "Waiting for a key"  # before the create: no usable key or slot until next_attempt_at
    SENDING = "sending", "Sending"  # a worker is sending the create, or its outcome is being reconciled
    QUEUED = "queued", "Queued"  # the provider accepted the job (and bills it)
    IN_PROGRESS = "in_progress", "In progress"
    DOWNLOADING = "downloading", "Storing"  # the provider finished; we copy the assets to our storage
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


S = Status

TRANSITIONS = {
    S.SUBMITTING: {S.SENDING, S.WAITING, S.CANCELED, S.FAILED},
    S.WAITING: {S.SENDING, S.CANCELED, S.FAILED},
    # sending -> waiting: the create was refused (rate limit, no credit, fault) so no job exists; or the
    # worker died before the POST left. sending -> downloading: the very first answer says completed.
    S.SENDING: {S.QUEUED, S.IN_PROGRESS, S.DOWNLOADING, S.WAITING, S.FAILED},
    S.QUEUED: {S.IN_PROGRESS, S.DOWNLOADING, S.FAILED},
    S.IN_PROGRESS: {S.DOWNLOADING, S.FAILED},
    S.DOWNLOADING: {S.COMPLETED, S.FAILED},
    S.COMPLETED: set(),
    S.FAILED: set(),
    S.CANCELED: set(),
}

FINAL = frozenset({S.COMPLETED, S.FAILED, S.CANCELED})
IN_FLIGHT = frozenset(set(S) - FINAL)
# Before the create is sent: nothing is billed yet, so the render may be canceled or moved to another key.
NOT_SENT = frozenset({S.SUBMITTING, S.WAITING})
# A job exists at the provider and is not finished there: tracked by webhooks and polls.
AT_PROVIDER = frozenset({S.QUEUED, S.IN_PROGRESS})

# The provider's job status (canonical: providers.dialects maps every provider's words) -> ours. "expired": the
# provider deleted the video; before we stored it, the render fails. Anything else is treated as failed.
FROM_PROVIDER = {
    "queued": S.QUEUED,
    "in_progress": S.IN_PROGRESS,
    "completed": S.DOWNLOADING,
    "failed": S.FAILED,
    "expired": S.FAILED,
}


def can_move(from_status, to_status):
    return to_status in TRANSITIONS.get(from_status, ())


def sources(to_status):
    """Every status from which `to_status` is a legal move."""
    return {status for status, targets in TRANSITIONS.items() if to_status in targets}


def from_provider(provider_status):
    return FROM_PROVIDER.get(provider_status, S.FAILED)
