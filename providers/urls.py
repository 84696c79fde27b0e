from django.urls import path

from providers import staff

urlpatterns = [
    # staff pages: provider keys and the audit log
    path("staff/keys/", staff.key_list, name="staff_keys"),
    path("staff/keys/new/", staff.key_add, name="staff_key_add"),
    path("staff/keys/<int:key_id>/", staff.key_detail, name="staff_key"),
    path("staff/keys/<int:key_id>/edit/", staff.key_edit, name="staff_key_edit"),
    path("staff/keys/<int:key_id>/enable/", staff.key_enable, name="staff_key_enable"),
    path("staff/keys/<int:key_id>/disable/", staff.key_disable, name="staff_key_disable"),
    path("staff/keys/<int:key_id>/drain/", staff.key_drain, name="staff_key_drain"),
    path("staff/keys/<int:key_id>/top-up/", staff.key_top_up, name="staff_key_top_up"),
    path("staff/keys/<int:key_id>/test/", staff.key_test, name="staff_key_test"),
    path("staff/audit/", staff.audit_log, name="staff_audit"),
]
