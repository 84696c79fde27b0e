from django.contrib import admin

from quotas import services
from quotas.models import (
    LedgerEntry,
    ProjectBudget,
    ProjectMonth,
    Reservation,
    UserAllowance,
    UserMonth,
    UserSlots,
    cents_to_usd,
    ms_to_seconds,
)
from soraweb.admin import ReadOnlyAdmin


def _limit_text(status):
    if status.limit is None:
        return f"{status.fmt(status.used)} used, no limit"
    return f"{status.fmt(status.remaining)} left of {status.fmt(status.limit)}"


@admin.register(UserAllowance)
class UserAllowanceAdmin(admin.ModelAdmin):
    list_display = ["user", "monthly_seconds", "monthly_spend_usd", "concurrent_renders", "updated_at"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user"]
    readonly_fields = ["this_month", "updated_at"]  # on the form only: the list stays a constant number of queries

    @admin.display(description="This month (effective limits)")
    def this_month(self, obj):
        if not obj.user_id:
            return "-"
        return "; ".join(f"{s.label}: {_limit_text(s)}" for s in services.usage(obj.user).limits)


@admin.register(ProjectBudget)
class ProjectBudgetAdmin(admin.ModelAdmin):
    list_display = ["project", "monthly_budget_usd", "updated_at"]
    search_fields = ["project__name"]
    raw_id_fields = ["project"]
    readonly_fields = ["this_month", "updated_at"]

    @admin.display(description="This month")
    def this_month(self, obj):
        if not obj.project_id:
            return "-"
        month = ProjectMonth.objects.filter(project=obj.project, month=services.month_of()).first()
        used, reserved = (month.spend_used_cents, month.spend_reserved_cents) if month else (0, 0)
        return f"{cents_to_usd(used)} USD spent, {cents_to_usd(reserved)} USD reserved"


class SecondsColumns(ReadOnlyAdmin):
    """The seconds columns of the records that carry used and reserved milliseconds."""

    @admin.display(description="seconds used")
    def seconds_used(self, obj):
        return ms_to_seconds(obj.seconds_used_ms)

    @admin.display(description="seconds reserved")
    def seconds_reserved(self, obj):
        return ms_to_seconds(obj.seconds_reserved_ms)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(SecondsColumns):
    list_display = ["created_at", "kind", "user", "project", "month", "render", "seconds_used", "seconds_reserved",
                    "spend_used_usd", "spend_reserved_usd", "slots", "reason"]
    list_filter = ["kind", "month"]
    search_fields = ["user__username", "project__name"]
    list_select_related = ["user", "project", "render"]
    date_hierarchy = "created_at"


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ["render", "user", "project", "month", "state", "seconds", "cost_usd", "created_at", "closed_at"]
    list_filter = ["state", "month"]
    search_fields = ["user__username", "project__name"]
    list_select_related = ["user", "project"]

    @admin.display(description="seconds")
    def seconds(self, obj):
        return ms_to_seconds(obj.seconds_ms)


class CounterAdmin(SecondsColumns):
    list_filter = ["month"]

    @admin.display(description="spent (USD)")
    def spent(self, obj):
        return cents_to_usd(obj.spend_used_cents)

    @admin.display(description="reserved (USD)")
    def spend_reserved(self, obj):
        return cents_to_usd(obj.spend_reserved_cents)


@admin.register(UserMonth)
class UserMonthAdmin(CounterAdmin):
    list_display = ["user", "month", "seconds_used", "seconds_reserved", "spent", "spend_reserved"]
    search_fields = ["user__username"]
    list_select_related = ["user"]


@admin.register(ProjectMonth)
class ProjectMonthAdmin(CounterAdmin):
    list_display = ["project", "month", "seconds_used", "seconds_reserved", "spent", "spend_reserved"]
    search_fields = ["project__name"]
    list_select_related = ["project"]


@admin.register(UserSlots)
class UserSlotsAdmin(ReadOnlyAdmin):
    list_display = ["user", "in_flight"]
    search_fields = ["user__username"]
