"""What providers announces about its keys, for the apps above it (renders) to act on: providers knows keys, the
client and the limiter, and nothing of the work done with them, so it never imports those apps.

Each signal is sent with `key=` (an ApiKey), inside the sender's transaction, and its receivers answer with a
number that the sender shows to staff (summed over the receivers by `total`):

- `key_available`: the key takes new work again (added, enabled, topped up, reactivated, its projects or limits
  changed). Receivers let the work waiting for it try again now, and answer how much they woke.
- `key_draining`: the key takes no new work but finishes what it holds (rotation). Receivers answer how much
  work is in flight on it.
- `waiting_count`: a question, changing nothing: how much work waits for a key that this one may serve (the key
  incident's email).
"""

from django.dispatch import Signal

from providers.models import ApiKey

key_available = Signal()
key_draining = Signal()
waiting_count = Signal()


def total(signal, key):
    """Send `signal` about `key` and add up the receivers' answers (0 when nobody listens)."""
    return sum(answer or 0 for _receiver, answer in signal.send(sender=ApiKey, key=key))
