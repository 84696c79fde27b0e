"""The render's timeline for people (renders/timeline.py): every kind of event the pipeline writes reads as a plain
sentence, a render's run is one line per step, and the ids, request ids and byte counts stay in the details."""

from datetime import timedelta

import pytest
from django.utils import timezone

from renders import pipeline, timeline
from renders.models import EventKind, Render, RenderEvent
from renders.states import Status
from tests.fixtures.waits import step_until
from tests.fixtures.world import submit

VIDEO_ID = "video_68d2e0f1a9b84c0e9d7f3a2b1c4e5f60718293a4b5c6d7e8"
START = timezone.now()


def event(kind, message="", status_from="", status_to="", request_id="", source="worker", at=0):
    return RenderEvent(kind=kind, message=message, status_from=status_from, status_to=status_to,
                       request_id=request_id, source=source, created_at=START + timedelta(seconds=at))


# (kind, status from, status to, the message as the pipeline writes it) -> the sentence
SENTENCES = [
    (EventKind.SUBMITTED, "", "submitting", "Submitted by alice: sora-2, 720x1280, 4 s.", "Submitted by alice."),
    (EventKind.SUBMITTED, "", "submitting", "Remix submitted by bob: sora-2, 720x1280, 4 s.",
     "Remix submitted by bob."),
    (EventKind.SUBMITTED, "", "submitting", "Retry submitted by bob: sora-2, 720x1280, 4 s.",
     "Retry submitted by bob."),
    (EventKind.STATUS, "submitting", "sending", "Sending the create to the provider with the key main.",
     "Sent to the provider."),
    (EventKind.REQUEST, "", "", f"The provider accepted the job {VIDEO_ID}.", "The provider accepted the job."),
    (EventKind.STATUS, "sending", "queued", "Queued at the provider.", "Queued at the provider."),
    (EventKind.STATUS, "queued", "in_progress", "In progress at the provider (poll).",
     "The provider started rendering."),
    (EventKind.WEBHOOK, "", "", "Webhook video.completed received (webhook-id wh_2f9c0d8e7b6a5f4e3d2c1b0a).",
     "The provider sent news by webhook."),
    (EventKind.STATUS, "in_progress", "downloading", "Finished at the provider (webhook); storing the video.",
     "The provider finished the video."),
    (EventKind.REQUEST, "", "", "Stored the video (1,912,204 bytes).", "Downloaded and stored."),
    (EventKind.STATUS, "downloading", "completed", "Completed: 4.00 s of video stored.",
     "Completed: 4 s of video."),
    (EventKind.STATUS, "downloading", "completed", "Completed: 3.96 s of video stored.",
     "Completed: 3.96 s of video."),
    # waits for a key (renders/keypool.py's reasons) and refused creates (pipeline.create_refused)
    (EventKind.WAIT, "submitting", "waiting", "Waiting for the provider's rate limit.",
     "Waiting for the provider's rate limit."),
    (EventKind.RETRY, "sending", "waiting", "The key main is rate limited; trying again in 20 s.",
     "Waiting for the provider's rate limit, next try in 20 s."),
    (EventKind.WAIT, "submitting", "waiting", "Waiting for a free slot: main at the concurrency limit.",
     "Waiting for a free slot: the provider keys are running as many videos as they may."),
    (EventKind.WAIT, "", "", "Waiting for a usable key (an admin can add one): main out of credit.",
     "Waiting for a provider key that works."),
    (EventKind.WAIT, "submitting", "waiting", "No provider key serves this project.",
     "Waiting: no provider key serves this project yet."),
    (EventKind.RETRY, "sending", "waiting", "The key main is out of credit; trying another key.",
     "The provider account is out of credit; trying another key."),
    (EventKind.RETRY, "sending", "waiting", "The key main was refused by the provider (invalid); trying another key.",
     "The provider refused the key; trying another key."),
    (EventKind.RETRY, "sending", "waiting", "The provider failed (503 Service Unavailable); try 2 in 1.6 s.",
     "The provider had a problem; try 2 in 2 s."),
    # tracking and storing
    (EventKind.RETRY, "", "", "Checking on the job failed (502 Bad Gateway); trying again.",
     "The provider did not answer about the job; asking again."),
    (EventKind.RETRY, "", "", "Fetching the job after the webhook failed (timed out); polling instead.",
     "The provider's news could not be fetched; checking on the job again shortly."),
    (EventKind.RETRY, "", "", "The download failed (connection reset); try 3 in 2.4 s.",
     "The download failed; try 3 in 2 s."),
    (EventKind.WAIT, "", "", "The provider refused the key main (401 invalid_api_key); the download resumes once "
     "the key works.", "The provider refused the key; waiting for an admin to fix it."),
    (EventKind.RETRY, "", "", "The worker went quiet; resuming.", "Picked up again after a worker stopped."),
    (EventKind.ERROR, "", "", "The create was sent but no answer came back (timed out). It is never sent twice: "
     "the reconciler will look for the job in the provider's list.",
     "The provider did not answer the request; looking for the job in its list (it is never sent twice)."),
    (EventKind.ERROR, "", "", "The worker went quiet while sending the create; the reconciler will look for the "
     "job in the provider's list.",
     "A worker stopped while sending; looking for the job in the provider's list (it is never sent twice)."),
    (EventKind.ERROR, "", "", "The create was sent but no answer came back (timed out). It is never sent twice: "
     "this key's provider has no list to look it up in, so it waits for a webhook or for staff to adopt the job id.",
     "The provider did not answer the request; waiting for the job's id from a webhook or from staff (it is never "
     "sent twice)."),
    (EventKind.ADOPTED, "", "", f"Found the job {VIDEO_ID} in the provider's list and adopted it (the create's "
     "answer was lost; it was not sent again).", "Found the job in the provider's list (it was not sent twice)."),
    (EventKind.ADOPTED, "", "", f"Staff adopted the job {VIDEO_ID}: sam entered its id (the create's answer was "
     "lost; it was not sent again).", "Staff found the job at the provider (it was not sent twice)."),
    (EventKind.ADOPTED, "", "", f"A webhook named the job {VIDEO_ID}, which matches this render: adopted it (the "
     "create's answer was lost; it was not sent again).",
     "The provider's webhook named the job (it was not sent twice)."),
    # endings
    (EventKind.STATUS, "in_progress", "failed", "The provider no longer has this video.",
     "Failed: The provider no longer has this video."),
    (EventKind.STATUS, "waiting", "canceled", "Canceled by alice.", "Canceled by alice."),
    (EventKind.DELETED, "", "", "Deleted by alice.", "Deleted by alice."),
    (EventKind.STATUS, "queued", "in_progress", "", "The provider started rendering."),
]


@pytest.mark.parametrize(("kind", "status_from", "status_to", "message", "expected"), SENTENCES,
                         ids=[f"{row[0]}-{row[4][:40]}" for row in SENTENCES])
def test_each_event_reads_as_a_plain_sentence(kind, status_from, status_to, message, expected):
    said = timeline.sentence(event(kind, message, status_from, status_to))
    assert said == expected
    for token in ("video_", "wh_", "bytes", "key main", "503", "401"):
        assert token not in said


def a_webhook_run():
    return [
        event(EventKind.SUBMITTED, "Submitted by alice: sora-2, 720x1280, 4 s.", "", "submitting", source="user"),
        event(EventKind.STATUS, "Sending the create to the provider with the key main.", "submitting", "sending",
              at=1),
        event(EventKind.REQUEST, f"The provider accepted the job {VIDEO_ID}.", request_id="req_8c1f2a", at=2),
        event(EventKind.STATUS, "Queued at the provider.", "sending", "queued", request_id="req_8c1f2a", at=2),
        event(EventKind.WEBHOOK, "Webhook video.in_progress received (webhook-id wh_01).", source="webhook", at=5),
        event(EventKind.STATUS, "In progress at the provider (webhook).", "queued", "in_progress",
              request_id="req_91bd07", source="webhook", at=5),
        event(EventKind.WEBHOOK, "Webhook video.completed received (webhook-id wh_02).", source="webhook", at=30),
        event(EventKind.STATUS, "Finished at the provider (webhook); storing the video.", "in_progress",
              "downloading", request_id="req_a4410e", source="webhook", at=30),
        event(EventKind.REQUEST, "Stored the video (1,912,204 bytes).", request_id="req_v", at=31),
        event(EventKind.REQUEST, "Stored the thumbnail (18,230 bytes).", request_id="req_t", at=31),
        event(EventKind.REQUEST, "Stored the spritesheet (40,112 bytes).", request_id="req_s", at=32),
        event(EventKind.STATUS, "Completed: 4.00 s of video stored.", "downloading", "completed", at=32),
    ]


def test_a_run_is_one_line_per_step_and_the_ids_are_in_the_details():
    steps = timeline.steps(a_webhook_run())
    assert [step.text for step in steps] == [
        "Submitted by alice.",
        "Sent to the provider.",
        "Queued at the provider.",
        "The provider started rendering.",
        "The provider finished the video.",
        "Downloaded and stored.",
        "Completed: 4 s of video.",
    ]
    assert [step.css for step in steps] == ["is-active"] * 6 + ["is-ok"]
    details = {step.text: " ".join(f"{said} {e.request_id} {source}" for e, said, source in step.details)
               for step in steps}
    assert VIDEO_ID in details["Sent to the provider."] and "key main" in details["Sent to the provider."]
    assert "wh_02" in details["The provider finished the video."]  # the webhook, with the step it announced
    assert "told by the provider's webhook" in details["The provider finished the video."]
    assert all(f"{n} bytes" in details["Downloaded and stored."] for n in ("1,912,204", "18,230", "40,112"))
    assert "req_s" in details["Downloaded and stored."]
    assert steps[0].at == START and steps[-1].at == START + timedelta(seconds=32)


def test_repeats_fold_into_one_line_with_a_count():
    failing = "Checking on the job failed (502 Bad Gateway); trying again."
    events = [event(EventKind.STATUS, "Queued at the provider.", "sending", "queued"),
              *[event(EventKind.RETRY, failing, request_id=f"req_{n}", source="poll", at=n) for n in range(1, 4)]]
    steps = timeline.steps(events)
    assert [step.text for step in steps] == [
        "Queued at the provider.", "The provider did not answer about the job; asking again. (3 times)"]
    assert [e.request_id for e, _, _ in steps[1].details] == ["req_1", "req_2", "req_3"]


def test_a_rate_limit_wait_going_on_says_when_the_next_try_is():
    wait = event(EventKind.WAIT, "Waiting for the provider's rate limit.", "submitting", "waiting")
    render = Render(status=Status.WAITING, next_attempt_at=wait.created_at + timedelta(seconds=19.6))
    assert timeline.steps([wait], render)[-1].text == "Waiting for the provider's rate limit, next try in 20 s."
    render.status = Status.SENDING  # over: no promise of a next try
    assert timeline.steps([wait], render)[-1].text == "Waiting for the provider's rate limit."


def test_a_lone_webhook_still_shows():
    steps = timeline.steps([event(EventKind.WEBHOOK, "Webhook video.failed received (webhook-id wh_9).")])
    assert [step.text for step in steps] == ["The provider sent news by webhook."]


@pytest.mark.django_db
@pytest.mark.slow(30)  # the shared sorasim's start, when it is the first test to need it
def test_a_real_run_against_sorasim_reads_in_plain_words(alice, project, sim_key):
    render = submit(alice, project)
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    step_until(render, {Status.DOWNLOADING}, pipeline.poll)
    pipeline.download(render.pk)
    render.refresh_from_db()
    assert render.status == Status.COMPLETED
    events = list(render.events.all())
    steps = timeline.steps(events, render)
    texts = [step.text for step in steps]
    assert texts[:2] == ["Submitted by alice.", "Sent to the provider."]
    assert texts[-2:] == ["Downloaded and stored.", f"Completed: {render.delivered_seconds.normalize():f} s of video."]
    assert "The provider finished the video." in texts
    assert len(steps) <= 7 < len(events)
    people = " ".join(texts)
    for token in (render.provider_video_id, "req_", "bytes", sim_key.name):
        assert token not in people
    in_details = " ".join(f"{said} {e.request_id}" for step in steps for e, said, _ in step.details)
    assert render.provider_video_id in in_details and "bytes" in in_details
    assert {e.request_id for e in events if e.request_id} <= set(in_details.split())
