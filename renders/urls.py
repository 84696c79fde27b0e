from django.urls import path

from renders import assets, webhooks
from renders.views import account, activity, render, studio, variations

urlpatterns = [
    # the studio page, its partials and actions
    path("projects/<int:project_id>/", studio.studio, name="studio"),
    path("projects/<int:project_id>/estimate/", studio.studio_estimate, name="studio_estimate"),
    path("projects/<int:project_id>/inflight/", studio.studio_inflight, name="studio_inflight"),
    path("projects/<int:project_id>/renders/<int:render_id>/favourite/", studio.render_favourite,
         name="render_favourite"),
    path("notices/", studio.notices_poll, name="notices"),
    path("settings/", account.user_settings, name="user_settings"),
    path("projects/<int:project_id>/renders/<int:render_id>/assets/<str:variant>", assets.render_asset,
         name="render_asset"),
    # the render page and its actions
    path("projects/<int:project_id>/renders/<int:render_id>/", render.render_detail, name="render_detail"),
    path("projects/<int:project_id>/renders/<int:render_id>/remix/", render.render_remix, name="render_remix"),
    path("projects/<int:project_id>/renders/<int:render_id>/retry/", render.render_retry, name="render_retry"),
    path("projects/<int:project_id>/renders/<int:render_id>/cancel/", render.render_cancel, name="render_cancel"),
    path("projects/<int:project_id>/renders/<int:render_id>/delete/", render.render_delete, name="render_delete"),
    path("projects/<int:project_id>/renders/<int:render_id>/comments/", render.render_comment,
         name="render_comment"),
    path("projects/<int:project_id>/renders/<int:render_id>/compare/", render.render_compare, name="render_compare"),
    path("projects/<int:project_id>/renders/<int:render_id>/variations/", variations.render_variations,
         name="render_variations"),
    path("projects/<int:project_id>/activity/", activity.project_activity, name="project_activity"),
    path("webhooks/<uuid:key_uuid>/", webhooks.webhook, name="webhook"),
]
