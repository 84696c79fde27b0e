"""Detect: a live sorasim speaking each dialect is probed with reads only (an unknown id under each key header,
then a one-item list), and the findings propose the preset and profile; the worker's task stores them."""


import pytest

from providers import detect, presets, tasks
from providers.models import ApiKey, KeyDetection
from tests.fixtures.sorasim import dialect_key

pytestmark = pytest.mark.django_db


def no_creates(sim, key):
    requests = sim.control.counters(key.secret)["requests"]
    return not [name for name in requests if name.startswith(("POST", "DELETE"))]


def test_openai(sim):
    key = dialect_key(sim, "openai")
    findings, proposal = detect.probe(key)
    assert proposal["preset"] == presets.OPENAI, findings
    assert proposal["auth_header"] == "" and proposal["has_list_endpoint"] is True
    assert no_creates(sim, key)


def test_newapi_has_no_list(sim):
    key = dialect_key(sim, "newapi", has_list_endpoint=True)
    findings, proposal = detect.probe(key)
    assert proposal["preset"] == presets.NEWAPI, findings
    assert proposal["has_list_endpoint"] is False and proposal["auth_header"] == ""
    assert proposal["has_webhooks"] is False
    assert any("no list endpoint" in line for line in findings)
    assert no_creates(sim, key)


def test_litellm(sim):
    key = dialect_key(sim, "litellm")
    findings, proposal = detect.probe(key)
    assert proposal["preset"] == presets.LITELLM, findings
    assert proposal["has_list_endpoint"] is True and proposal["has_webhooks"] is False


def test_azure_is_found_by_its_key_header(sim):
    key = dialect_key(sim, "azure", path="/openai/v1")  # the key header left at Bearer, which Azure refuses
    findings, proposal = detect.probe(key)
    assert proposal["preset"] == presets.AZURE, findings
    assert proposal["auth_header"] == "api-key" and proposal["has_list_endpoint"] is True
    assert proposal["base_url"] == sim.url + "/openai/v1"
    assert any("refused (HTTP 401" in line for line in findings)
    assert no_creates(sim, key)


def test_azure_under_v1_gets_the_openai_path_proposed(sim):
    key = dialect_key(sim, "azure")
    findings, proposal = detect.probe(key)
    assert proposal["preset"] == presets.AZURE, findings
    assert proposal["base_url"] == sim.url + "/openai/v1" and proposal["auth_header"] == "api-key"
    assert proposal["provider"] == "Azure AI Foundry"  # the default label follows the preset


def test_a_provider_label_staff_chose_is_never_proposed_away(sim):
    key = dialect_key(sim, "azure", path="/openai/v1", provider="Contoso video (Sweden)")
    findings, proposal = detect.probe(key)
    assert proposal["preset"] == presets.AZURE, findings
    assert "provider" not in proposal


def test_a_key_every_header_refuses_proposes_nothing(sim):
    key = ApiKey.objects.create(name="unknown", base_url=sim.api_url, rpm_limit=0, secret_encrypted="")
    key.secret = "sk-nobody-knows-this-key"
    key.save()
    findings, proposal = detect.probe(key)
    assert proposal == {}
    assert "Every key header was refused" in findings[-1]


def test_the_worker_stores_the_findings_once(sim, staff):
    key = dialect_key(sim, "newapi")
    detection = KeyDetection.objects.create(key=key, requested_by=staff)
    tasks.detect_key(detection.pk)
    tasks.detect_key(detection.pk)  # a duplicate message: a no-op
    detection.refresh_from_db()
    assert detection.outcome == KeyDetection.Outcome.DONE and detection.proposal["preset"] == presets.NEWAPI
    assert key.secret not in " ".join(detection.findings)
    assert sim.control.counters(key.secret)["requests"].get("GET /v1/videos 404") == 1


def test_a_key_at_its_own_limit_is_not_probed(sim, staff):
    key = dialect_key(sim, "openai")
    ApiKey.objects.filter(pk=key.pk).update(rpm_limit=1)
    detection = KeyDetection.objects.create(key=key, requested_by=staff)
    tasks.detect_key(detection.pk)
    detection.refresh_from_db()
    # the retrieve took the one slot: the list was not sent
    assert detection.outcome == KeyDetection.Outcome.NOT_SENT and detection.proposal == {}
    assert "GET /v1/videos 200" not in sim.control.counters(key.secret)["requests"]


@pytest.mark.parametrize("preset", [presets.APIFREE, presets.SELFHOSTED])
def test_a_preset_the_probe_cannot_tell_apart_is_kept(sim, preset):
    findings, proposal = detect.probe(dialect_key(sim, "openai", preset=preset))
    assert proposal["preset"] == preset, findings
