"""Capability presets: what each kind of gateway can do, as the defaults of a key's profile.

A preset only fills the key's fields; staff may change any of them afterwards (the key keeps its preset name
as a label). The table follows the provider contract's "Gateways and resellers"."""

from dataclasses import asdict, dataclass, field

OPENAI = "openai"
APIFREE = "apifree"
AZURE = "azure"
LITELLM = "litellm"
NEWAPI = "newapi"
SELFHOSTED = "selfhosted"


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    base_url_hint: str
    auth_header: str = ""
    has_webhooks: bool = False
    can_remix_endpoint: bool = True
    can_remix_by_create: bool = False
    has_list_endpoint: bool = True
    reference_as: str = "file"
    # {} = every model, size and length the settings allow
    model_table: dict = field(default_factory=dict)
    notes: str = ""

    def fields(self):
        """The key fields this preset sets (the form's initial values)."""
        values = asdict(self)
        for name in ("name", "label", "base_url_hint", "notes"):
            values.pop(name)
        values["preset"] = self.name
        values["provider"] = self.label  # the key's provider label, shown on the staff pages
        return values


PRESETS = {
    preset.name: preset
    for preset in (
        Preset(
            OPENAI,
            "OpenAI-compatible",
            "https://api.example.com/v1",
            notes="The reference API: every call; webhooks once the account has them configured (tick the box).",
        ),
        Preset(
            APIFREE,
            "Apifree",
            "https://<host>/v1",
            can_remix_endpoint=False,
            can_remix_by_create=True,
            notes="Create, retrieve, list, delete, content; remix by remix_video_id on create.",
        ),
        Preset(
            AZURE,
            "Azure AI Foundry",
            "https://<resource>.openai.azure.com/openai/v1",
            auth_header="api-key",
            notes="Key in the api-key header; a fresh deployment may answer 404 for a while.",
        ),
        Preset(
            LITELLM,
            "LiteLLM proxy",
            "https://<proxy>/v1",
            notes="Bearer or x-litellm-api-key; no webhooks.",
        ),
        Preset(
            NEWAPI,
            "new-api / one-api relay",
            "https://<relay>/v1",
            can_remix_endpoint=False,
            has_list_endpoint=False,
            notes="Ids task_...; often no list endpoint; content possibly by redirect; no webhooks.",
        ),
        Preset(
            SELFHOSTED,
            "Self-hosted server",
            "http://<host>/v1",
            can_remix_endpoint=False,
            has_list_endpoint=False,
            notes="e.g. SGLang Diffusion: sizes and seconds differ per model; list them in the key's model table.",
        ),
    )
}

CHOICES = [(preset.name, preset.label) for preset in PRESETS.values()]

REFERENCE_CHOICES = [("file", "File upload (multipart)"), ("image_url", "Image URL (JSON, data URL)")]


def is_preset_label(label):
    """A provider label that came from a preset (or the default): one a preset may replace."""
    return label in ("", "openai-compatible") or any(preset.label == label for preset in PRESETS.values())


def get(name):
    """The preset called `name`, the OpenAI-compatible one for an unknown name."""
    return PRESETS.get(name) or PRESETS[OPENAI]
