"""A key's health as the staff pages show it (the key list, a key's page and the dashboard)."""

from providers import limiter
from providers.models import BROKEN_STATES


def key_health(key):
    """What the key list and the dashboard show for one key: its state, the limiter's headroom, its incident."""
    use = limiter.usage(key.pk)
    rpm, jobs = use["rpm_limit"], use["max_concurrent"]
    return {
        "key": key,
        "usage": use,
        "requests_left": max(rpm - use["requests_last_minute"], 0) if rpm else None,
        "jobs_left": max(jobs - use["jobs_in_flight"], 0) if jobs else None,
        "paused_until": use["paused_until"],
        "takes_new_work": key.takes_new_work,
        "broken": key.state in BROKEN_STATES,
        "projects": list(key.projects.all()),
        "incident": key.incidents.filter(resolved_at__isnull=True).first(),
    }
