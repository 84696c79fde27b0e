from django.contrib import admin

from renders.models import BillingIncident, Render, RenderEvent, WebhookDelivery
from soraweb.admin import ReadOnlyAdmin


class RenderEventInline(admin.TabularInline):
    model = RenderEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "status_from", "status_to", "source", "message", "request_id"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Render)
class RenderAdmin(admin.ModelAdmin):
    # read-only: statuses, money and keys change only through the pipeline's conditional updates
    list_display = ["id", "project", "author", "model", "size", "seconds", "status", "progress", "api_key",
                    "charged_usd", "created_at", "deleted_at"]
    list_filter = ["status", "model", "api_key"]
    search_fields = ["prompt", "provider_video_id"]
    list_select_related = ["project", "author", "api_key"]
    raw_id_fields = ["remix_of", "retry_of"]
    inlines = [RenderEventInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Render._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["webhook_id", "api_key", "event_type", "video_id", "received_at", "applied_at", "render"]
    list_filter = ["event_type", "api_key"]
    search_fields = ["webhook_id", "video_id"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in WebhookDelivery._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(BillingIncident)
class BillingIncidentAdmin(ReadOnlyAdmin):
    # staff reconcile these on the staff page "Unknown outcomes", which records who did and what they found
    list_display = ["render", "api_key", "amount_cents", "opened_at", "resolved_at", "resolved_by", "billed",
                    "resolution"]
    list_filter = ["billed", "api_key"]
    list_select_related = ["render", "api_key", "resolved_by"]
