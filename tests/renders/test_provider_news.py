"""lifecycle.provider_news: what the provider's news means for a render, over the status table (no database)."""

import pytest

from renders.lifecycle import Act, News, provider_news
from renders.states import Status

S = Status

# (the render's status, the provider's video status, the provider's error code and message) -> what to do
TABLE = [
    # a final render: nothing the provider says changes it
    (S.COMPLETED, "in_progress", None, None, News(Act.NOTHING)),
    (S.FAILED, "completed", None, None, News(Act.NOTHING)),
    (S.CANCELED, "queued", None, None, News(Act.NOTHING)),
    # the same status again: only the progress may grow
    (S.QUEUED, "queued", None, None, News(Act.PROGRESS, S.QUEUED)),
    (S.IN_PROGRESS, "in_progress", None, None, News(Act.PROGRESS, S.IN_PROGRESS)),
    (S.DOWNLOADING, "completed", None, None, News(Act.PROGRESS, S.DOWNLOADING)),
    # forward moves, also skipping ahead
    (S.SENDING, "queued", None, None, News(Act.MOVE, S.QUEUED)),
    (S.SENDING, "in_progress", None, None, News(Act.MOVE, S.IN_PROGRESS)),
    (S.QUEUED, "in_progress", None, None, News(Act.MOVE, S.IN_PROGRESS)),
    (S.SENDING, "completed", None, None, News(Act.DOWNLOAD, S.DOWNLOADING)),
    (S.QUEUED, "completed", None, None, News(Act.DOWNLOAD, S.DOWNLOADING)),
    (S.IN_PROGRESS, "completed", None, None, News(Act.DOWNLOAD, S.DOWNLOADING)),
    # older news after newer: not a legal move, only the expiry is kept
    (S.IN_PROGRESS, "queued", None, None, News(Act.STALE, S.QUEUED)),
    (S.DOWNLOADING, "in_progress", None, None, News(Act.STALE, S.IN_PROGRESS)),
    (S.DOWNLOADING, "queued", None, None, News(Act.STALE, S.QUEUED)),
    # news about a job before the create was sent cannot move the render
    (S.SUBMITTING, "queued", None, None, News(Act.STALE, S.QUEUED)),
    (S.WAITING, "completed", None, None, News(Act.STALE, S.DOWNLOADING)),
    # a failed job: the provider's code and words
    (S.QUEUED, "failed", "moderation_blocked", "blocked by policy",
     News(Act.FAIL, S.FAILED, "moderation_blocked", "blocked by policy")),
    (S.IN_PROGRESS, "failed", None, None, News(Act.FAIL, S.FAILED, "failed", "")),
    (S.SENDING, "failed", "invalid_request", None, News(Act.FAIL, S.FAILED, "invalid_request", "")),
    # expired: the provider deleted the video before we stored it
    (S.QUEUED, "expired", None, None, News(Act.FAIL, S.FAILED, "expired")),
    # a status we do not know is terminal here (the client maps every provider's words onto the canonical ones)
    (S.QUEUED, "exploded", None, None, News(Act.FAIL, S.FAILED, "unknown_status", "status 'exploded'")),
    (S.IN_PROGRESS, "cancelled", None, None, News(Act.FAIL, S.FAILED, "unknown_status", "status 'cancelled'")),
    # a failure reported while we store the files: the download decides, not the news
    (S.DOWNLOADING, "failed", "server_error", "oops", News(Act.KEEP_STORING, S.FAILED)),
    (S.DOWNLOADING, "expired", None, None, News(Act.KEEP_STORING, S.FAILED)),
]


@pytest.mark.parametrize(("current", "video_status", "error_code", "error_message", "expected"), TABLE)
def test_provider_news(current, video_status, error_code, error_message, expected):
    assert provider_news(current, video_status, error_code, error_message) == expected


def test_every_status_and_every_provider_status_has_an_answer():
    for current in Status:
        for video_status in ("queued", "in_progress", "completed", "failed", "expired", ""):
            news = provider_news(current, video_status)
            assert news.act in set(Act)
            if news.act in (Act.MOVE, Act.DOWNLOAD, Act.FAIL):
                assert news.target is not None and news.target != current
