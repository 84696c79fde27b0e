from django.db import models


class RateCounter(models.Model):
    """One fixed window of a rate limit (soraweb.ratelimits): how many writes `key` made since the window began,
    and when it ends. A row per user and limit (or per address for public endpoints), reused window after window;
    rows whose window ended long ago are pruned when a new key first counts."""

    key = models.CharField(max_length=200, unique=True)
    hits = models.PositiveIntegerField(default=0)
    resets_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"{self.key}: {self.hits} until {self.resets_at:%H:%M:%S}"
