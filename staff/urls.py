from django.urls import path

from staff.views import audit, dashboard, keys, unknown_outcomes

urlpatterns = [
    path("staff/", dashboard.dashboard, name="staff_dashboard"),
    path("staff/keys/", keys.key_list, name="staff_keys"),
    path("staff/keys/new/", keys.key_add, name="staff_key_add"),
    path("staff/keys/<int:key_id>/", keys.key_detail, name="staff_key"),
    path("staff/keys/<int:key_id>/edit/", keys.key_edit, name="staff_key_edit"),
    path("staff/keys/<int:key_id>/enable/", keys.key_enable, name="staff_key_enable"),
    path("staff/keys/<int:key_id>/disable/", keys.key_disable, name="staff_key_disable"),
    path("staff/keys/<int:key_id>/drain/", keys.key_drain, name="staff_key_drain"),
    path("staff/keys/<int:key_id>/top-up/", keys.key_top_up, name="staff_key_top_up"),
    path("staff/keys/<int:key_id>/test/", keys.key_test, name="staff_key_test"),
    path("staff/keys/<int:key_id>/detect/", keys.key_detect, name="staff_key_detect"),
    path("staff/keys/<int:key_id>/detect/<int:detection_id>/apply/", keys.key_detect_apply,
         name="staff_key_detect_apply"),
    path("staff/audit/", audit.audit_log, name="staff_audit"),
    path("staff/unknown-outcomes/", unknown_outcomes.unknown_outcome_list, name="staff_unknown_outcomes"),
    path("staff/unknown-outcomes/renders/<int:render_id>/adopt/", unknown_outcomes.render_adopt,
         name="staff_render_adopt"),
    path("staff/unknown-outcomes/incidents/<int:incident_id>/resolve/", unknown_outcomes.billing_incident_resolve,
         name="staff_billing_incident_resolve"),
]
