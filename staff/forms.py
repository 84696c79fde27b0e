"""The provider key form, the only one: the staff pages add and edit keys with it, and the Django admin only
shows keys. Secrets are write-only: entered once, never rendered back (not even after a validation error), stored
encrypted, shown as ••••last4 afterwards. A stored secret is only ever sent where it was entered for: changing where
or how the key is sent asks for the secrets again."""

import base64
import binascii
import json
import re

from django import forms
from django.conf import settings

from projects.models import Project
from providers import presets
from providers.dialects import normalize_auth_header
from providers.models import PRICE_PLACES, ApiKey
from quotas.services import UnknownPrice, default_price


class SecretInput(forms.PasswordInput):
    def __init__(self):
        # render_value=False: a form shown again after an error does not echo the secret back
        super().__init__(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"})


class PresetSelect(forms.Select):
    """Each option carries its preset's fields (data-fields), which static/js/staff.js copies into the form."""

    def create_option(self, name, value, *args, **kwargs):
        option = super().create_option(name, value, *args, **kwargs)
        preset = presets.PRESETS.get(str(value))
        if preset:
            option["attrs"]["data-fields"] = json.dumps(preset.fields())
            option["attrs"]["data-base-url"] = preset.base_url_hint
        return option


# The fields that decide where the API key is sent and how it is carried (with the words the form uses for them).
# Changing one would send the stored secret to a server it never went to, e.g. one that the person editing controls:
# whoever changes them must type the secrets again, so the form can never be used to read a secret back.
SECRET_DESTINATION = {"base_url": "base URL", "auth_header": "key header"}


class KeyForm(forms.ModelForm):
    secret = forms.CharField(label="API key", required=False, strip=True, widget=SecretInput())
    webhook_secret = forms.CharField(label="Webhook signing secret", required=False, strip=True,
                                     widget=SecretInput())
    projects = forms.ModelMultipleChoiceField(
        queryset=Project.objects.filter(archived_at__isnull=True), required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Projects this key is dedicated to. None: the key joins the default pool, which serves every "
                  "project without keys of its own.")

    class Meta:
        model = ApiKey
        fields = ["preset", "name", "provider", "base_url", "secret", "auth_header", "webhook_secret", "rpm_limit",
                  "max_concurrent",
                  "can_remix_endpoint", "can_remix_by_create", "has_webhooks", "has_list_endpoint", "reference_as",
                  "model_table", "projects"]
        widgets = {"preset": PresetSelect(attrs={"data-preset": "1"}),
                   "model_table": forms.Textarea(attrs={"rows": 4, "spellcheck": "false"})}
        labels = {
            "has_list_endpoint": "List endpoint",
            "reference_as": "Reference image sent as",
            "model_table": "Models",
            "base_url": "Base URL",
            "auth_header": "Key header",
            "rpm_limit": "Requests per minute",
            "max_concurrent": "Jobs at once",
            "can_remix_endpoint": "Remix by endpoint",
            "can_remix_by_create": "Remix by create",
            "has_webhooks": "Webhooks",
        }
        help_texts = {
            "preset": "The kind of gateway: choosing one fills the capabilities below (each stays editable).",
            "has_list_endpoint": "GET /videos lists the key's videos (new-api relays often have no list).",
            "reference_as": "A file upload (multipart), or a data URL in JSON for providers that take no uploads.",
            "model_table": 'Empty: every model, size and length this site offers. Otherwise only these, e.g. '
                           '{"sora-2": {"sizes": ["1280x720"], "seconds": [4, 8]}} '
                           '(sizes or seconds left out: all of them).',
            "base_url": "The provider's API root, e.g. https://api.example.com/v1",
            "auth_header": "Empty: Authorization: Bearer <key> (most providers). Otherwise the header that carries "
                           "the key as is: api-key for Azure, x-litellm-api-key for a LiteLLM proxy that asks for it.",
            "rpm_limit": "Our own ceiling, kept by the shared limiter before the provider has to say no. 0: none.",
            "max_concurrent": "Renders in flight on this key at once. 0: no limit.",
            "can_remix_endpoint": "The provider remixes a finished video at POST /videos/{id}/remix.",
            "can_remix_by_create": "The provider takes remix_video_id on POST /videos.",
            "has_webhooks": "The provider posts signed video.completed and video.failed webhooks to the URL shown "
                            "once the key is saved. Without them, renders are polled.",
        }

    def __init__(self, *args, preset=None, **kwargs):
        """`preset`: a preset name whose fields fill the form's initial values (the add page's ?preset=)."""
        if preset in presets.PRESETS:
            fields = presets.PRESETS[preset].fields()
            instance = kwargs.get("instance")
            if instance is not None and not presets.is_preset_label(instance.provider):
                fields.pop("provider")  # a label staff chose themselves stays
            kwargs["initial"] = {**fields, **(kwargs.get("initial") or {})}
        super().__init__(*args, **kwargs)
        if preset in presets.PRESETS:
            self.fields["base_url"].widget.attrs["placeholder"] = presets.PRESETS[preset].base_url_hint
        if self.is_bound and not all(self.data.get(name) for name in ("preset", "reference_as")):
            # left out of a post (a script, an older form): as they are
            self.data = self.data.copy()
            for name in ("preset", "reference_as"):
                self.data[name] = self.data.get(name) or getattr(self.instance, name)
        # as stored, before the form applies anything to the instance
        self.saved_destination = {name: getattr(self.instance, name) for name in SECRET_DESTINATION}
        if self.instance.pk:
            self.fields["projects"].queryset = Project.objects.filter(
                archived_at__isnull=True) | self.instance.projects.all()
            keep = "Leave empty to keep the current one, unless the base URL or key header changes"
            self.fields["secret"].help_text = f"Now ••••{self.instance.secret_last4}. {keep}."
            self.fields["webhook_secret"].help_text = (
                f"Now ••••{self.instance.webhook_secret_last4}. {keep}." if self.instance.webhook_secret_last4
                else "None yet: the provider's whsec_… secret, needed to verify its webhooks.")
        else:
            self.fields["secret"].required = True
            self.fields["secret"].help_text = "Stored encrypted and never shown again (only its last 4 characters)."
            self.fields["webhook_secret"].help_text = (
                "The provider's whsec_… secret for its webhooks; stored encrypted and never shown again.")

    def clean_secret(self):
        value = self.cleaned_data["secret"]
        if value and (len(value) < 8 or any(c.isspace() for c in value)):
            raise forms.ValidationError("This does not look like an API key: at least 8 characters, no spaces.")
        return value

    def clean_auth_header(self):
        try:
            return normalize_auth_header(self.cleaned_data["auth_header"])
        except ValueError:
            raise forms.ValidationError("A header name: letters, digits and hyphens, e.g. api-key.") from None

    def clean_model_table(self):
        value = self.cleaned_data.get("model_table") or {}
        if not isinstance(value, dict):
            raise forms.ValidationError('An object of models, e.g. {"sora-2": {"seconds": [4, 8]}}, or empty.')
        for model, allowed in value.items():
            if model not in settings.RENDER_MODELS:
                raise forms.ValidationError(f"{model} is not a model of this site "
                                            f"({', '.join(settings.RENDER_MODELS)}).")
            if not isinstance(allowed, dict) or set(allowed) - {"sizes", "seconds"}:
                raise forms.ValidationError(f'{model}: an object with "sizes" and/or "seconds" lists.')
            sizes, seconds = allowed.get("sizes", []), allowed.get("seconds", [])
            if not isinstance(sizes, list) or not all(size in settings.RENDER_MODELS[model] for size in sizes):
                raise forms.ValidationError(f"{model} sizes: some of {', '.join(settings.RENDER_MODELS[model])}.")
            if not isinstance(seconds, list) or not all(s in settings.RENDER_SECONDS for s in seconds):
                raise forms.ValidationError(f"{model} seconds: some of "
                                            f"{', '.join(map(str, settings.RENDER_SECONDS))}.")
        return value

    def clean_webhook_secret(self):
        value = self.cleaned_data["webhook_secret"]
        if value:
            if not value.startswith("whsec_"):
                raise forms.ValidationError("A webhook signing secret starts with whsec_.")
            payload = value.removeprefix("whsec_")
            try:
                if not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", payload):
                    raise binascii.Error
                decoded = base64.b64decode(payload + "=" * (-len(payload) % 4))
            except binascii.Error:
                decoded = b""
            if not decoded:
                raise forms.ValidationError("After whsec_ a webhook signing secret is base64 text.")
        return value

    def moved(self):
        """The words for the fields of SECRET_DESTINATION this (cleaned) form changes on a saved key."""
        if not self.instance.pk:
            return []
        return [words for name, words in SECRET_DESTINATION.items()
                if name in self.cleaned_data and self.cleaned_data[name] != self.saved_destination[name]]

    def clean(self):
        data = super().clean()
        moved = " and ".join(self.moved())
        if moved and not data.get("secret") and "secret" not in self.errors:
            self.add_error("secret", f"The {moved} changed: enter the API key again. The stored key is only sent "
                                     "where it was entered for.")
        if moved and data.get("has_webhooks") and not data.get("webhook_secret") \
                and "webhook_secret" not in self.errors:
            self.add_error("webhook_secret", f"The {moved} changed: enter the webhook signing secret again too "
                                             "(or turn webhooks off).")
        has_secret = data.get("webhook_secret") or self.instance.webhook_secret_last4
        if data.get("has_webhooks") and not has_secret and "webhook_secret" not in self.errors:
            self.add_error("webhook_secret", "Webhooks are signed: enter the provider's signing secret, or turn "
                                             "webhooks off (renders are then polled).")
        return data

    def save(self, commit=True):
        key = super().save(commit=False)
        if self.cleaned_data.get("secret"):
            key.secret = self.cleaned_data["secret"]
        if self.cleaned_data.get("webhook_secret"):
            key.webhook_secret = self.cleaned_data["webhook_secret"]
        if commit:
            key.save()
            self._save_m2m()
        return key


def price_rows(key):
    """One row per model and size `key` offers: {"model", "size", "own": the key's price or None, "default": the
    site's (None where the site has none)}, in the settings' order."""
    rows = []
    for model, allowed in key.offered_models().items():
        for size in allowed["sizes"]:
            try:
                default = default_price(model, size)
            except UnknownPrice:
                default = None
            rows.append({"model": model, "size": size, "own": key.price_override(model, size), "default": default})
    return rows


class KeyPriceForm(forms.Form):
    """The key's prices: one field per model and size the key offers (as the key stands when the form is made,
    before the key form applies a changed model list), blank for the site's default, which is the placeholder.
    Anything posted for a model or size the key does not offer is ignored; on save, prices of models or sizes the
    key no longer offers are dropped (providers.models.clean_prices)."""

    prefix = "price"
    ERRORS = {
        "invalid": "Enter a price in USD per second, e.g. 0.35, or leave it empty for the default.",
        "min_value": "A price cannot be negative: 0 or more.",
        "max_decimal_places": f"At most {PRICE_PLACES} decimal places, e.g. 0.3125.",
        "max_digits": "Less than $1,000,000 a second.",
        "max_whole_digits": "Less than $1,000,000 a second.",
    }

    def __init__(self, *args, key, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = price_rows(key)
        for row in self.rows:
            default = str(row["default"]) if row["default"] is not None else "no default"
            field = forms.DecimalField(
                label=f"{row['model']} at {row['size']}", required=False, min_value=0, max_digits=6 + PRICE_PLACES,
                decimal_places=PRICE_PLACES, initial=row["own"], error_messages=self.ERRORS,
                widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": default, "size": 8,
                                              "autocomplete": "off"}))
            row["name"] = self.field_name(row["model"], row["size"])
            self.fields[row["name"]] = field

    @property
    def submitted(self):
        """Whether the post carries the price table: a post without it (a script, an older form) keeps the key's
        prices as they are; an empty price in it means the default."""
        return self.is_bound and any(name.startswith(f"{self.prefix}-") for name in self.data)

    def has_changed(self):
        return self.submitted and super().has_changed()

    @staticmethod
    def field_name(model, size):
        return f"{model}__{size}"

    def table(self):
        """The rows with their bound fields, for the template."""
        return [{**row, "field": self[row["name"]]} for row in self.rows]

    def prices(self):
        """{model: {size: Decimal}} of the prices set (after is_valid()), blank ones left out; None when the post
        carried no price table (keep the key's prices)."""
        if not self.submitted:
            return None
        chosen = {}
        for row in self.rows:
            value = self.cleaned_data.get(row["name"])
            if value is not None:
                chosen.setdefault(row["model"], {})[row["size"]] = value
        return chosen
