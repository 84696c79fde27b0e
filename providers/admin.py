"""ApiKey admin: secrets are write-only (entered once, stored encrypted, shown as ••••last4 afterwards)."""

from django import forms
from django.contrib import admin

from providers.models import ApiKey


class ApiKeyForm(forms.ModelForm):
    # render_value=False: a form shown again after a validation error does not echo the secret back
    secret = forms.CharField(
        label="API key",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted and never shown again. Leave empty to keep the current one.",
    )
    webhook_secret = forms.CharField(
        label="Webhook signing secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="The provider's whsec_... secret. Leave empty to keep the current one.",
    )

    class Meta:
        model = ApiKey
        fields = [
            "name", "provider", "base_url", "secret", "webhook_secret", "rpm_limit", "max_concurrent",
            "can_remix_endpoint", "can_remix_by_create", "has_webhooks", "projects",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            self.fields["secret"].required = True
            self.fields["secret"].help_text = "Stored encrypted and never shown again."
        else:
            for name, last4 in (("secret", self.instance.secret_last4),
                                ("webhook_secret", self.instance.webhook_secret_last4)):
                if last4:
                    self.fields[name].help_text = f"Current: ••••{last4}. " + self.fields[name].help_text

    def clean_webhook_secret(self):
        value = self.cleaned_data["webhook_secret"]
        if value and not value.startswith("whsec_"):
            raise forms.ValidationError("A webhook signing secret starts with whsec_.")
        return value

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


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ["name", "provider", "base_url", "state", "masked_secret", "rpm_limit", "max_concurrent",
                    "paused_until", "last_error_at"]
    list_filter = ["state", "provider"]
    search_fields = ["name", "provider", "base_url"]
    actions = ["enable_keys", "disable_keys", "drain_keys"]
    readonly_fields = ["state", "masked_secret", "masked_webhook_secret", "webhook_url", "paused_until", "last_error",
                       "last_error_at", "created_at", "updated_at"]
    filter_horizontal = ["projects"]
    fieldsets = [
        (None, {"fields": ["name", "provider", "base_url", "state"]}),
        ("Secrets", {"fields": ["secret", "masked_secret", "webhook_secret", "masked_webhook_secret",
                                "webhook_url"]}),
        ("Limits and capabilities", {"fields": ["rpm_limit", "max_concurrent", "can_remix_endpoint",
                                                "can_remix_by_create", "has_webhooks", "projects"]}),
        ("Health", {"fields": ["paused_until", "last_error", "last_error_at", "created_at", "updated_at"]}),
    ]

    @admin.display(description="API key")
    def masked_secret(self, obj):
        return obj.masked_secret or "—"

    @admin.display(description="Webhook secret")
    def masked_webhook_secret(self, obj):
        return f"••••{obj.webhook_secret_last4}" if obj.webhook_secret_last4 else "—"

    @admin.display(description="Webhook URL (paste into the provider's settings)")
    def webhook_url(self, obj):
        return obj.webhook_url if obj.pk else "shown once the key is saved"

    # State changes go through the model's conditional UPDATEs, never through a form that may hold a stale
    # state: a worker may have marked the key out of credit while the form was open.

    @admin.action(description="Enable (also: top-up acknowledged)")
    def enable_keys(self, request, queryset):
        changed = sum(key.reactivate() for key in queryset)
        self.message_user(request, f"{changed} key(s) enabled.")

    @admin.action(description="Disable")
    def disable_keys(self, request, queryset):
        changed = sum(key.disable() for key in queryset)
        self.message_user(request, f"{changed} key(s) disabled.")

    @admin.action(description="Drain (finish jobs in flight, take no new ones)")
    def drain_keys(self, request, queryset):
        changed = sum(key.drain() for key in queryset)
        self.message_user(request, f"{changed} key(s) draining.")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.save()
            return
        # Workers change state, paused_until and last_error by conditional UPDATE at any moment: write back
        # only what the admin changed, never a stale copy of the rest.
        fields = [name for name in form.changed_data if name in {f.name for f in obj._meta.concrete_fields}]
        if form.cleaned_data.get("secret"):
            fields += ["secret_encrypted", "secret_last4"]
        if form.cleaned_data.get("webhook_secret"):
            fields += ["webhook_secret_encrypted", "webhook_secret_last4"]
        if fields:
            obj.save(update_fields=[*fields, "updated_at"])
