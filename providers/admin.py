"""The provider models in the Django admin, to look only. Keys are added and changed on the staff pages
(/staff/keys/), through the one key form, which records every change in the audit log, resolves incidents and wakes
waiting renders; an admin form would do none of that. The admin shows no secret, not even encrypted."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from providers.models import ApiKey, AuditEntry, KeyIncident, KeyTest
from soraweb.admin import ReadOnlyAdmin


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ["name", "provider", "state", "masked_secret", "rpm_limit", "max_concurrent", "last_error_at",
                    "staff_page"]
    list_filter = ["state", "provider"]
    search_fields = ["name", "provider", "base_url"]
    # listed one by one: the encrypted secrets never reach the page
    fieldsets = [
        (None, {"fields": ["name", "provider", "base_url", "state", "staff_page"]}),
        ("Secrets", {"fields": ["masked_secret", "masked_webhook_secret", "webhook_url"]}),
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

    @admin.display(description="Webhook URL")
    def webhook_url(self, obj):
        return obj.webhook_url

    @admin.display(description="Staff page")
    def staff_page(self, obj):
        return format_html('<a href="{}">Change on the staff page</a>', reverse("staff_key", args=[obj.pk]))

    def changelist_view(self, request, extra_context=None):
        self._point_to_staff_pages(request, reverse("staff_keys"))
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET" and object_id.isdigit():
            self._point_to_staff_pages(request, reverse("staff_key", args=[object_id]))
        return super().change_view(request, object_id, form_url, extra_context)

    def _point_to_staff_pages(self, request, url):
        messages.info(request, format_html(
            'Provider keys are added, changed, enabled, disabled and drained on the <a href="{}">staff pages</a>; '
            "the admin only shows them.", url))


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor_name", "action", "target_type", "target", "detail"]
    list_filter = ["target_type", "action"]
    search_fields = ["actor_name", "target", "detail"]
    date_hierarchy = "at"


@admin.register(KeyIncident)
class KeyIncidentAdmin(ReadOnlyAdmin):
    list_display = ["key", "kind", "opened_at", "emailed_at", "resolved_at", "resolution"]
    list_filter = ["kind"]
    list_select_related = ["key"]


@admin.register(KeyTest)
class KeyTestAdmin(ReadOnlyAdmin):
    list_display = ["key", "outcome", "status_code", "requested_by", "requested_at", "finished_at"]
    list_filter = ["outcome"]
    list_select_related = ["key", "requested_by"]
