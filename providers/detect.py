"""Detect what a key's provider speaks, without spending anything: a retrieve of an id no job has (under each
key header until one is not refused), then a one-item list. From the answers and their error shapes comes a
proposed preset and profile, which staff may apply to the key (one button, one audit entry).

Never a create, a remix or a delete: every probe is a read. Findings quote the provider's answers only as short
summaries (providers.errors.shorten), as the live test does. Each request takes a slot of the key's own limiter
first, as the live test does; a key at its limit is not probed ("not sent")."""

import itertools
import logging
import re
from urllib.parse import urlsplit, urlunsplit

from celery import current_app
from django.db import transaction
from django.utils import timezone

from providers import audit, limiter, presets
from providers.errors import InvalidKey, ProviderError, ProviderUnavailable, URLRefused, VideoNotFound, shorten
from providers.models import ApiKey, KeyDetection

log = logging.getLogger(__name__)

# an id in the shape every dialect accepts, which no job has
UNKNOWN_ID = "video_" + "0" * 48
HEADERS = ("", "api-key", "x-litellm-api-key")
# what a proposal may set on a key
PROFILE_FIELDS = (
    "preset",
    "provider",
    "base_url",
    "auth_header",
    "has_list_endpoint",
    "has_webhooks",
    "can_remix_endpoint",
    "can_remix_by_create",
    "reference_as",
)


class NotSent(Exception):
    """The key is paused or at its own request limit: nothing more was sent."""


class DetectionOutdated(Exception):
    """The key moved to another base URL since the probe: its proposal would send the key back to the old one."""


def header_words(name):
    return "Authorization: Bearer" if not name else f"the {name} header"


# --- the probe --------------------------------------------------------------------------------------------


def probe(key, base_url=None):
    """(findings, proposal): sentences of what was seen, and the key fields they suggest ({} when nothing could
    be told). Raises NotSent when the key's limiter has no slot."""
    base_url = (base_url or key.base_url).rstrip("/")
    findings = []
    header, answer = _accepted_header(key, base_url, findings)
    if header is None:
        return findings, {}
    if _no_route(answer) and "/openai/" not in base_url + "/":
        azure_url = _azure_base(base_url)
        findings.append(f"{base_url} has no such route (“Resource not found”, Azure's answer); trying {azure_url}.")
        more, proposal = probe(key, azure_url)
        return findings + more, proposal
    has_list = _lists(key, base_url, header, findings)
    preset = presets.get(_dialect(base_url, header, answer, has_list))
    if _dialect(base_url, header, answer, None) == presets.OPENAI and key.preset in (
        presets.APIFREE,
        presets.SELFHOSTED,
    ):
        # no gateway's signature: the probe cannot tell these from the reference API (or a relay): keep the choice
        preset = presets.get(key.preset)
    proposal = preset.fields()
    proposal.pop("model_table")  # which models a key has is not probed: keep the key's list
    proposal.update(base_url=base_url, auth_header=header)
    if not presets.is_preset_label(key.provider):
        proposal.pop("provider")  # a label staff chose themselves stays
    if has_list is not None:
        proposal["has_list_endpoint"] = has_list
    if preset.name == presets.OPENAI:
        proposal["has_webhooks"] = key.has_webhooks  # configured per account: the probe cannot see it
    findings.append(f"It looks like {preset.label}.")
    return findings, proposal


def _client(key, base_url, header):
    """A client for the key with this header, at `base_url` (the key's own, or the one being tried)."""
    return key.client(base_url=base_url, auth_header=header)


def _slot(key):
    wait = limiter.acquire_request(key.pk)
    if wait > 0:
        raise NotSent(
            f"Nothing more was sent: the key is paused or at its own limit of {key.rpm_limit} requests a "
            f"minute for another {wait:.0f} s. Detect again then."
        )


def _accepted_header(key, base_url, findings):
    """(header, the error of the unknown retrieve) under the first key header the provider does not refuse."""
    candidates = [key.auth_header, *(name for name in HEADERS if name != key.auth_header)]
    for name in candidates:
        _slot(key)
        try:
            with _client(key, base_url, name) as client:
                client.retrieve(UNKNOWN_ID)
        except URLRefused as exc:
            findings.append(f"Nothing was sent: {exc.message}")
            return None, None
        except InvalidKey as exc:
            findings.append(f"With {header_words(name)}: refused (HTTP 401: {shorten(exc.message)}).")
            continue
        except ProviderUnavailable as exc:
            findings.append(f"The provider could not be reached or failed: {shorten(exc.message)}")
            return None, None
        except ProviderError as exc:
            findings.append(
                f"With {header_words(name)}: accepted; an unknown id answers HTTP {exc.status} {_shape(exc)}."
            )
            return name, exc
        findings.append(f"With {header_words(name)}: accepted (it even knows the id {UNKNOWN_ID}).")
        return name, None
    findings.append("Every key header was refused: the key itself is wrong, or revoked.")
    return None, None


def _lists(key, base_url, header, findings):
    """True: GET /videos answers; False: no such route; None: could not tell."""
    _slot(key)
    try:
        with _client(key, base_url, header) as client:
            list(itertools.islice(client.list(limit=1), 1))
    except ProviderError as exc:
        if exc.status in (404, 405):
            findings.append(f"GET /videos: HTTP {exc.status} ({shorten(exc.message)}): no list endpoint.")
            return False
        findings.append(f"GET /videos: HTTP {exc.status} ({shorten(exc.message)}): could not tell.")
        return None
    findings.append("GET /videos: lists the key's videos.")
    return True


def _shape(exc):
    code = f"code {shorten(exc.code, 60)}" if exc.code else "no code"
    return f"({code}: {shorten(exc.message)})"


def _no_route(answer):
    return isinstance(answer, VideoNotFound) and answer.code == "404" and answer.message == "Resource not found"


def _dialect(base_url, header, answer, has_list):
    code = answer.code if isinstance(answer, ProviderError) else None
    if header == "api-key" or "/openai/" in base_url + "/":
        return presets.AZURE
    if code == "task_not_exist" or (answer is not None and answer.type == "new_api_error"):
        return presets.NEWAPI
    if header == "x-litellm-api-key" or (code is not None and re.fullmatch(r"\d{3}", code)):
        return presets.LITELLM  # LiteLLM puts the HTTP status in the code
    if has_list is False:
        return presets.NEWAPI
    return presets.OPENAI


def _azure_base(base_url):
    parts = urlsplit(base_url)
    path = re.sub(r"/v1$", "", parts.path.rstrip("/")) + "/openai/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


# --- asked for by staff, run by a worker -----------------------------------------------------------------


def start(key, actor):
    """Record a detection and enqueue it (after commit); the detect page polls for the result."""
    return start_probe(KeyDetection, key, actor, "key.detect", "probe of the key's profile requested (reads only)",
                       "providers.tasks.detect_key")


def start_probe(model, key, actor, action, words, task_name):
    """Record a probe of the key (a KeyProbe: this detection, or keyadmin's live test), audit it and enqueue its task
    after the commit; returns the probe, whose page polls for the result."""
    with transaction.atomic():
        probe = model.objects.create(key=key, requested_by=actor if actor.is_authenticated else None)
        audit.record(actor, action, key, words)
        # by name (providers.tasks imports this module); ProvidersConfig.ready registers it in every process
        task = current_app.tasks[task_name]
        transaction.on_commit(lambda: task.delay(probe.pk))
    return probe


def run(detection_id):
    """The worker's part: claim the detection, probe, store the findings and the proposal."""
    if not KeyDetection.objects.filter(pk=detection_id, outcome=KeyDetection.Outcome.PENDING).update(
        outcome=KeyDetection.Outcome.RUNNING, started_at=timezone.now()
    ):
        return None  # done already (a duplicate message)
    detection = KeyDetection.objects.select_related("key").get(pk=detection_id)
    key = detection.key
    try:
        findings, proposal = probe(key)
        outcome = KeyDetection.Outcome.DONE if proposal else KeyDetection.Outcome.FAILED
    except NotSent as exc:
        findings, proposal, outcome = [str(exc)], {}, KeyDetection.Outcome.NOT_SENT
    except ValueError as exc:  # a secret that no configured encryption key decrypts
        findings, proposal, outcome = [str(exc)], {}, KeyDetection.Outcome.FAILED
    KeyDetection.objects.filter(pk=detection_id).update(
        finished_at=timezone.now(),
        outcome=outcome,
        findings=[_scrub(line, key) for line in findings],
        proposal=proposal,
    )
    log.info("detection %s of key %s: %s", detection_id, key.pk, outcome)
    return KeyDetection.objects.get(pk=detection_id)


def changes(key, proposal):
    """[(field, now, proposed)] of the proposal's values that differ from the key's."""
    return [
        (name, getattr(key, name), proposal[name])
        for name in PROFILE_FIELDS
        if name in proposal and getattr(key, name) != proposal[name]
    ]


def apply(detection, actor):
    """Set the proposal's fields on the key (only those that differ); the save writes the audit entry."""
    key = ApiKey.objects.get(pk=detection.key_id)
    if not _probed_where_the_key_is(key, detection.proposal):
        # a base URL is changed only with the secret typed again (staff.forms.KeyForm); an old proposal must not
        # move the current secret back to where an earlier one went
        raise DetectionOutdated(f"{key.name} has moved to another base URL since this detection; detect again.")
    fields = [name for name, _, _ in changes(key, detection.proposal)]
    with transaction.atomic(), audit.acting_as(actor):
        for name in fields:
            setattr(key, name, detection.proposal[name])
        if fields:
            key.save(update_fields=[*fields, "updated_at"])
        audit.record(
            actor, "key.profile_applied", key, f"detected profile applied: {', '.join(fields) or 'nothing differed'}"
        )
        KeyDetection.objects.filter(pk=detection.pk).update(applied_at=timezone.now())
    return key, fields


def _probed_where_the_key_is(key, proposal):
    base_url = key.base_url.rstrip("/")
    return proposal.get("base_url", base_url) in (base_url, _azure_base(base_url))


def _scrub(text, key):
    try:
        secret = key.secret
    except ValueError:
        return text[:1000]
    if secret and len(secret) >= 8:
        text = text.replace(secret, key.masked_secret)
    return text[:1000]
