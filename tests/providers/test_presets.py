"""The presets' fields and a key's offered models: empty means the settings' table; a key's own table narrows it
(never widens it)."""

import pytest

from providers import presets
from providers.models import ApiKey


@pytest.fixture
def table(settings):
    settings.RENDER_MODELS = {"sora-2": ["720x1280", "1280x720"], "sora-2-pro": ["1280x720", "1920x1080"]}
    settings.RENDER_SECONDS = [4, 8, 12, 16, 20]


def test_a_key_without_models_offers_the_settings_table(table):
    key = ApiKey()
    assert key.offered_models() == {
        "sora-2": {"sizes": ["720x1280", "1280x720"], "seconds": [4, 8, 12, 16, 20]},
        "sora-2-pro": {"sizes": ["1280x720", "1920x1080"], "seconds": [4, 8, 12, 16, 20]},
    }
    assert key.offers("sora-2-pro", "1920x1080", 20) and key.offers("sora-2", "720x1280", "8")
    assert not key.offers("sora-2", "1920x1080", 8) and not key.offers("sora-2", "720x1280", 7)
    assert not key.offers("veo-3", "720x1280", 8) and not key.offers("sora-2", "720x1280", "eight")


def test_a_key_table_narrows_and_never_widens(table):
    key = ApiKey(
        model_table={
            "sora-2-pro": {"sizes": ["1920x1080", "1024x1792"], "seconds": ["16", 20, 30]},
            "sora-2": {"seconds": [4]},
            "veo-3": {"seconds": [8]},
        }
    )
    assert key.offered_models() == {
        "sora-2": {"sizes": ["720x1280", "1280x720"], "seconds": [4]},
        "sora-2-pro": {"sizes": ["1920x1080"], "seconds": [16, 20]},
    }
    assert key.offers("sora-2-pro", "1920x1080", 16) and not key.offers("sora-2-pro", "1280x720", 16)
    assert not key.offers("sora-2", "720x1280", 8)


def test_a_model_with_nothing_left_is_not_offered(table):
    assert ApiKey(model_table={"sora-2": {"sizes": ["1920x1080"]}}).offered_models() == {}


def test_the_openai_preset_is_the_model_defaults():
    fields = presets.get("openai").fields()
    assert fields.pop("provider") == "OpenAI-compatible" and presets.is_preset_label("openai-compatible")
    assert fields == {name: ApiKey._meta.get_field(name).get_default() for name in fields}
    assert presets.get("no-such-preset").name == presets.OPENAI


@pytest.mark.parametrize(
    "name, expected",
    [
        ("azure", {"auth_header": "api-key", "has_webhooks": False, "has_list_endpoint": True}),
        ("newapi", {"has_list_endpoint": False, "has_webhooks": False, "can_remix_endpoint": False}),
        ("apifree", {"can_remix_by_create": True, "can_remix_endpoint": False}),
        ("litellm", {"auth_header": "", "has_webhooks": False}),
        ("selfhosted", {"has_list_endpoint": False, "can_remix_endpoint": False}),
    ],
)
def test_gateway_presets(name, expected):
    fields = presets.get(name).fields()
    assert fields["preset"] == name and {k: fields[k] for k in expected} == expected
    assert {value for value, _ in presets.CHOICES} == set(presets.PRESETS)
