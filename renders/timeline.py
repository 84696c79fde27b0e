"""A render's timeline for people: its events (RenderEvent) as plain sentences, one line per step that matters to
the person who submitted it ("Sent to the provider.", "Waiting for the provider's rate limit, next try in 20 s.",
"The provider finished the video.", "Downloaded and stored.").

The pipeline writes each event's message for whoever reads the raw log: it names the provider's job id, request
ids, webhook ids, key names and byte counts. Those stay with each step as its details (a collapsed part of the
page, for support). Events that are not a step of their own fold into one: the provider's "accepted the job" into
the send, the other stored files into the first, a webhook into the step it announced, and a repeat of the same
sentence (a retry after a retry) into the first, counted.
"""

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from renders.models import EventKind
from renders.states import IN_FLIGHT, Status

# where the news came from, said in the details
SOURCES = {
    "user": "by a person",
    "worker": "by the worker",
    "webhook": "told by the provider's webhook",
    "poll": "found by checking with the provider",
    "reconciler": "found by the reconciler",
    "staff": "by staff",
}

STORED = "Downloaded and stored."
ACCEPTED = "The provider accepted the job."

# how an event joins the timeline
OWN, INTO_PREVIOUS, INTO_NEXT = "own", "previous", "next"


@dataclass
class Step:
    """One line of the timeline: a sentence, when it happened, a class for its dot (is-ok, is-error, is-active,
    or none), and the events behind it with what they said in full (the details)."""

    sentence: str
    css: str = ""
    events: list = field(default_factory=list)
    repeats: int = 1

    @property
    def at(self):
        return self.events[0].created_at

    @property
    def text(self):
        return self.sentence if self.repeats == 1 else f"{self.sentence} ({self.repeats} times)"

    @property
    def details(self):
        """[(event, what it said in full, where the news came from)] for the collapsed details: the events whose
        message says more than the sentence, or that carry a request id."""
        rows = []
        for event in self.events:
            said = event.message if event.message and event.message != self.sentence else ""
            if said or event.request_id or len(self.events) > 1:
                rows.append((event, said or event.get_kind_display(), SOURCES.get(event.source, "")))
        return rows

    @property
    def details_id(self):
        # changes when the step grows, so a details part kept open across the page's poll (hx-preserve) is only
        # kept while what it shows is still whole
        return f"timeline-details-{self.events[0].pk}-{len(self.events)}"


# --- one event, one sentence ---------------------------------------------------------------------------------

def _seconds(text):
    """"20" -> "20", "1.5" -> "2": a wait in whole seconds (at least 1)."""
    try:
        return str(max(1, round(Decimal(text))))
    except (InvalidOperation, ValueError):
        return text


def _wait_sentence(message):
    """The sentence of a wait for a key (keypool's reasons) or of a refused create (pipeline.create_refused), or
    None when the message is neither."""
    if match := re.search(r"rate limited; trying again in ([\d.]+) s", message):
        return f"Waiting for the provider's rate limit, next try in {_seconds(match[1])} s."
    if message.startswith("Waiting for the provider's rate limit"):
        return "Waiting for the provider's rate limit."
    if message.startswith("Waiting for a free slot"):
        return "Waiting for a free slot: the provider keys are running as many videos as they may."
    if message.startswith("Waiting for a usable key"):
        return "Waiting for a provider key that works."
    if message.startswith("No provider key serves this project"):
        return "Waiting: no provider key serves this project yet."
    if "out of credit; trying another key" in message:
        return "The provider account is out of credit; trying another key."
    if "(invalid); trying another key" in message:
        return "The provider refused the key; trying another key."
    if match := re.match(r"The provider failed \(.*\); try (\d+) in ([\d.]+) s", message, re.S):
        return f"The provider had a problem; try {match[1]} in {_seconds(match[2])} s."
    return None


def _completed_sentence(message):
    match = re.search(r"([\d.]+) s of video", message)
    if not match:
        return "Completed."
    try:
        seconds = Decimal(match[1]).normalize()
    except InvalidOperation:
        return "Completed."
    return f"Completed: {seconds:f} s of video."


STATUS_SENTENCES = {
    Status.SUBMITTING: "Submitted.",
    Status.SENDING: "Sent to the provider.",
    Status.QUEUED: "Queued at the provider.",
    Status.IN_PROGRESS: "The provider started rendering.",
    Status.DOWNLOADING: "The provider finished the video.",
    Status.CANCELED: "Canceled.",
}


def _status_sentence(event):
    to, message = event.status_to, event.message
    if to == Status.WAITING:
        return _wait_sentence(message) or message or "Waiting for a provider key."
    if to == Status.COMPLETED:
        return _completed_sentence(message)
    if to == Status.FAILED:
        return f"Failed: {message}" if message else "Failed."
    if to == Status.CANCELED and message.startswith("Canceled by"):
        return message
    if to in STATUS_SENTENCES:
        return STATUS_SENTENCES[to]
    return f"Moved to {Status(to).label.lower()}." if to in Status.values else message or "Status changed."


def _submitted_sentence(message):
    # "Remix submitted by alice: sora-2, 1280x720, 4 s." -> "Remix submitted by alice." (the settings are on the page)
    head = message.split(":", 1)[0].strip().rstrip(".")
    return f"{head}." if head else "Submitted."


NOTE_SENTENCES = [
    # (kind, how the message starts, the sentence)
    (EventKind.REQUEST, "The provider accepted the job", ACCEPTED),
    (EventKind.REQUEST, "Stored the ", STORED),
    (EventKind.ADOPTED, "Found the job", "Found the job in the provider's list (it was not sent twice)."),
    (EventKind.ADOPTED, "Staff adopted the job", "Staff found the job at the provider (it was not sent twice)."),
    (EventKind.ADOPTED, "A webhook named the job", "The provider's webhook named the job (it was not sent twice)."),
    (EventKind.RETRY, "Checking on the job failed", "The provider did not answer about the job; asking again."),
    (EventKind.RETRY, "The worker went quiet", "Picked up again after a worker stopped."),
    (EventKind.RETRY, "Fetching the job after the webhook failed",
     "The provider's news could not be fetched; checking on the job again shortly."),
    (EventKind.WAIT, "The provider refused the key",
     "The provider refused the key; waiting for an admin to fix it."),
    (EventKind.ERROR, "The create was sent but no answer came back",
     "The provider did not answer the request; looking for the job in its list (it is never sent twice)."),
    (EventKind.ERROR, "The worker went quiet while sending",
     "A worker stopped while sending; looking for the job in the provider's list (it is never sent twice)."),
]


# a lost create on a key without a list endpoint (renders.lifecycle.lost_answer_plan) starts like one on a key with a
# list: how the message ends tells them apart
WAITS_FOR_ADOPTION = "waits for a webhook or for staff to adopt the job id."
LOST_ANSWER_SENTENCES = {
    "The create was sent": "The provider did not answer the request; waiting for the job's id from a webhook or "
                           "from staff (it is never sent twice).",
    "The worker went quiet": "A worker stopped while sending; waiting for the job's id from a webhook or from "
                             "staff (it is never sent twice).",
}


def _note_sentence(event):
    message = event.message
    if event.kind == EventKind.ERROR and message.endswith(WAITS_FOR_ADOPTION):
        for start, sentence in LOST_ANSWER_SENTENCES.items():
            if message.startswith(start):
                return sentence
    if event.kind == EventKind.RETRY and (match := re.match(r"The download failed \(.*\); try (\d+) in ([\d.]+) s",
                                                             message, re.S)):
        return f"The download failed; try {match[1]} in {_seconds(match[2])} s."
    if event.kind == EventKind.WEBHOOK:
        return "The provider sent news by webhook."
    for kind, start, sentence in NOTE_SENTENCES:
        if event.kind == kind and message.startswith(start):
            return sentence
    if event.kind == EventKind.WAIT:
        return _wait_sentence(message) or message or "Waiting."
    return message or event.get_kind_display() + "."


def sentence(event):
    """What the event means for people, in one sentence (no ids, no byte counts)."""
    if event.kind == EventKind.SUBMITTED:
        return _submitted_sentence(event.message)
    if event.status_to:
        return _status_sentence(event)
    return _note_sentence(event)


def _css(event, text):
    if event.status_to == Status.COMPLETED:
        return "is-ok"
    if event.status_to == Status.FAILED or event.kind == EventKind.ERROR:
        return "is-error"
    if event.status_to in IN_FLIGHT or text == STORED:
        return "is-active"
    return ""


def _joins(event, text, previous):
    """OWN, INTO_PREVIOUS or INTO_NEXT: whether the event is a step of its own."""
    if event.kind == EventKind.WEBHOOK:
        return INTO_NEXT
    if previous is None:
        return OWN
    if text == ACCEPTED and previous.sentence == STATUS_SENTENCES[Status.SENDING]:
        return INTO_PREVIOUS
    if text == previous.sentence and not event.status_to:
        return INTO_PREVIOUS
    return OWN


# --- the whole timeline ----------------------------------------------------------------------------------------

def steps(events, render=None):
    """The render's events (oldest first) as Steps. With the render, a wait that is still going on says when the
    next try is."""
    result, waiting = [], []
    for event in events:
        text = sentence(event)
        previous = result[-1] if result else None
        joins = _joins(event, text, previous)
        if joins == INTO_NEXT:
            waiting.append(event)
        elif joins == INTO_PREVIOUS:
            previous.events.append(event)
            if text != ACCEPTED and text != STORED:
                previous.repeats += 1
        else:
            result.append(Step(text, _css(event, text), [*waiting, event]))
            waiting = []
    if waiting:  # news with no step after it (yet): its own line
        if result:
            result[-1].events.extend(waiting)
        else:
            result.append(Step(sentence(waiting[0]), "", waiting))
    if render is not None and result:
        _say_next_try(result[-1], render)
    return result


def _say_next_try(step, render):
    """"Waiting for the provider's rate limit." -> "..., next try in 20 s." while the render still waits for it."""
    if (step.sentence == "Waiting for the provider's rate limit." and render.status == Status.WAITING
            and render.next_attempt_at is not None):
        wait = (render.next_attempt_at - step.events[-1].created_at).total_seconds()
        if wait > 0:
            step.sentence = f"Waiting for the provider's rate limit, next try in {_seconds(str(wait))} s."
