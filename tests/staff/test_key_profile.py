"""The key's capability profile on the staff pages: a preset fills the form (each field still editable), the key
page says what the key can do, and "Detect" probes a live sorasim key, proposes its profile and applies it with
one button (and an audit entry). Staff only."""

import json
import re

import pytest
from django.urls import reverse

from providers import presets, tasks
from providers.audit import AuditEntry
from providers.models import ApiKey, KeyDetection, KeyTest
from tests.fixtures.sorasim import dialect_key
from tests.staff.conftest import key_form

pytestmark = pytest.mark.django_db


def field_value(html, name):
    tag = re.search(rf'<(?:input|textarea)[^>]*name="{name}"[^>]*>', html)
    assert tag, name
    return tag.group(0)


def selected(html, name):
    select = re.search(rf'<select[^>]*name="{name}".*?</select>', html, re.S).group(0)
    return re.search(r'<option value="([^"]*)"[^>]*selected', select).group(1)


def test_a_preset_fills_the_add_form(staff_client):
    html = staff_client.get(reverse("staff_key_add") + "?preset=azure").content.decode()
    assert selected(html, "preset") == "azure"
    assert 'value="api-key"' in field_value(html, "auth_header")
    assert "checked" not in field_value(html, "has_webhooks")
    assert "checked" in field_value(html, "has_list_endpoint")
    assert 'placeholder="https://&lt;resource&gt;.openai.azure.com/openai/v1"' in field_value(html, "base_url")

    html = staff_client.get(reverse("staff_key_add") + "?preset=newapi").content.decode()
    assert "checked" not in field_value(html, "has_list_endpoint")
    assert "checked" not in field_value(html, "can_remix_endpoint")
    assert 'value=""' in field_value(html, "auth_header") or "value=" not in field_value(html, "auth_header")

    html = staff_client.get(reverse("staff_key_add") + "?preset=apifree").content.decode()
    assert "checked" in field_value(html, "can_remix_by_create")
    assert "checked" not in field_value(html, "can_remix_endpoint")


def test_every_preset_option_carries_its_fields_for_the_script(staff_client):
    html = staff_client.get(reverse("staff_key_add")).content.decode()
    assert selected(html, "preset") == presets.OPENAI
    for name, preset in presets.PRESETS.items():
        option = re.search(rf'<option value="{name}"[^>]*>', html).group(0)
        fields = json.loads(re.search(r'data-fields="([^"]*)"', option).group(1).replace("&quot;", '"'))
        assert fields == preset.fields()
    assert "js/staff.js" in html and "<script>" not in html


def test_the_preset_is_saved_as_posted_and_stays_editable(staff_client):
    response = staff_client.post(
        reverse("staff_key_add") + "?preset=azure",
        key_form(
            name="Foundry",
            preset="azure",
            base_url="https://res.openai.azure.com/openai/v1",
            auth_header="api-key",
            has_webhooks=None,
            webhook_secret=None,
            reference_as="image_url",
            can_remix_endpoint=None,
            model_table='{"sora-2-pro": {"sizes": ["1920x1080"], "seconds": [16, 20]}}',
        ),
    )
    assert response.status_code == 302
    key = ApiKey.objects.get(name="Foundry")
    assert (key.preset, key.auth_header, key.reference_as) == ("azure", "api-key", "image_url")
    assert not key.has_webhooks and not key.can_remix_endpoint
    assert key.offered_models() == {"sora-2-pro": {"sizes": ["1920x1080"], "seconds": [16, 20]}}
    assert key.offers("sora-2-pro", "1920x1080", 16) and not key.offers("sora-2", "720x1280", 4)

    page = staff_client.get(reverse("staff_key", kwargs={"key_id": key.pk})).content.decode()
    profile = re.search(r"<dl class=\"facts\" data-profile>.*?</dl>", page, re.S).group(0)
    assert "Azure AI Foundry" in profile and "api-key" in profile and "sora-2-pro: 1920x1080; 16, 20 s" in profile
    assert "as an image URL" in profile and "Remix</dt><dd>no" in profile


@pytest.mark.parametrize(
    "models, message",
    [
        ('{"veo-3": {}}', "veo-3 is not a model of this site"),
        ('{"sora-2": {"sizes": ["1920x1080"]}}', "sora-2 sizes: some of"),
        ('{"sora-2": {"seconds": [7]}}', "sora-2 seconds: some of"),
        ('["sora-2"]', "An object of models"),
    ],
)
def test_models_outside_the_site_are_refused(staff_client, models, message):
    response = staff_client.post(reverse("staff_key_add"), key_form(model_table=models))
    assert response.status_code == 400 and message in response.content.decode()
    assert not ApiKey.objects.exists()


def test_an_empty_model_table_means_everything(staff_client, settings):
    assert staff_client.post(reverse("staff_key_add"), key_form(model_table="")).status_code == 302
    key = ApiKey.objects.get()
    assert key.model_table == {} and set(key.offered_models()) == set(settings.RENDER_MODELS)


def test_detect_proposes_and_applies_the_profile(staff_client, staff, sim, django_capture_on_commit_callbacks):
    key = dialect_key(sim, "azure", path="/openai/v1")
    url = reverse("staff_key_detect", kwargs={"key_id": key.pk})
    assert "Not probed yet." in staff_client.get(url).content.decode()
    with django_capture_on_commit_callbacks() as enqueued:
        response = staff_client.post(url, headers={"HX-Request": "true", "HX-Target": "key-detect"})
    assert len(enqueued) == 1
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="key-detect"') and 'data-poll="1"' in body and "Probing…" in body
    detection = KeyDetection.objects.get(key=key)
    assert detection.requested_by == staff
    assert AuditEntry.objects.get(action="key.detect").actor == staff

    tasks.detect_key(detection.pk)  # what the worker runs for the enqueued message

    done = staff_client.get(url, headers={"HX-Request": "true", "HX-Target": "key-detect"}).content.decode()
    assert 'data-outcome="done"' in done and "data-poll" not in done and "It looks like Azure AI Foundry." in done
    proposal = re.search(r'<table[^>]*id="proposal".*?</table>', done, re.S).group(0)
    assert "Key header" in proposal and "api-key" in proposal and "Azure AI Foundry" in proposal

    applied = staff_client.post(
        reverse("staff_key_detect_apply", kwargs={"key_id": key.pk, "detection_id": detection.pk}), follow=True
    )
    assert "Applied the detected profile" in applied.content.decode()
    key.refresh_from_db()
    assert (key.preset, key.auth_header, key.has_list_endpoint) == ("azure", "api-key", True)
    entry = AuditEntry.objects.get(action="key.profile_applied")
    assert entry.actor == staff and "auth_header" in entry.detail and "preset" in entry.detail
    changed = AuditEntry.objects.get(action="key.changed", target_id=key.pk).detail
    assert "key header: default → api-key" in changed and "preset: openai → azure" in changed
    again = staff_client.get(url).content.decode()
    assert "already has the detected profile" in again


def test_a_newapi_relay_is_proposed_without_a_list(staff_client, sim):
    key = dialect_key(sim, "newapi")
    detection = KeyDetection.objects.create(key=key)
    tasks.detect_key(detection.pk)
    page = staff_client.get(reverse("staff_key_detect", kwargs={"key_id": key.pk})).content.decode()
    proposal = re.search(r'<table[^>]*id="proposal".*?</table>', page, re.S).group(0)
    assert "List endpoint" in proposal and "new-api / one-api relay" in proposal


def test_only_a_done_detection_applies(staff_client, key):
    detection = KeyDetection.objects.create(key=key, proposal={"preset": "azure"})
    url = reverse("staff_key_detect_apply", kwargs={"key_id": key.pk, "detection_id": detection.pk})
    assert staff_client.post(url).status_code == 404
    key.refresh_from_db()
    assert key.preset == presets.OPENAI


def test_detect_is_staff_only(client, alice, key):
    detection = KeyDetection.objects.create(key=key, outcome="done", proposal={"preset": "azure"})
    urls = [
        reverse("staff_key_detect", kwargs={"key_id": key.pk}),
        reverse("staff_key_detect_apply", kwargs={"key_id": key.pk, "detection_id": detection.pk}),
    ]
    for url in urls:
        assert client.post(url).status_code == 302  # signed out: the sign-in page
    client.force_login(alice)
    assert client.get(urls[0]).status_code == 403
    for url in urls:
        assert client.post(url).status_code == 403
    assert KeyDetection.objects.count() == 1
    key.refresh_from_db()
    assert key.preset == presets.OPENAI


def test_an_unknown_key_is_404(staff_client):
    assert staff_client.get(reverse("staff_key_detect", kwargs={"key_id": 999})).status_code == 404


def test_the_live_test_of_a_key_without_a_list_retrieves_an_unknown_id(staff_client, sim, staff):
    key = dialect_key(sim, "newapi")
    ApiKey.objects.filter(pk=key.pk).update(has_list_endpoint=False, preset="newapi")
    test = KeyTest.objects.create(key=key, requested_by=staff)
    tasks.test_key(test.pk)
    test.refresh_from_db()
    assert test.outcome == KeyTest.Outcome.OK and "it has no list" in test.message
    requests = sim.control.counters(key.secret)["requests"]
    assert "GET /v1/videos 404" not in requests and len(requests) == 1
