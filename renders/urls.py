from django.urls import path

from renders import assets, review, views, webhooks

urlpatterns = [
    path("projects/<int:project_id>/", views.studio, name="studio"),
    # the studio page's partials and actions (renders/views.py)
    path("projects/<int:project_id>/estimate/", views.studio_estimate, name="studio_estimate"),
    path("projects/<int:project_id>/inflight/", views.studio_inflight, name="studio_inflight"),
    path("projects/<int:project_id>/renders/<int:render_id>/favourite/", views.render_favourite,
         name="render_favourite"),
    path("notices/", views.notices_poll, name="notices"),
    path("settings/", views.user_settings, name="user_settings"),
    path("projects/<int:project_id>/renders/<int:render_id>/assets/<str:variant>", assets.render_asset,
         name="render_asset"),
    # the render page and its actions (renders/review.py)
    path("projects/<int:project_id>/renders/<int:render_id>/", review.render_detail, name="render_detail"),
    path("projects/<int:project_id>/renders/<int:render_id>/remix/", review.render_remix, name="render_remix"),
    path("projects/<int:project_id>/renders/<int:render_id>/retry/", review.render_retry, name="render_retry"),
    path("projects/<int:project_id>/renders/<int:render_id>/cancel/", review.render_cancel, name="render_cancel"),
    path("projects/<int:project_id>/renders/<int:render_id>/delete/", review.render_delete, name="render_delete"),
    path("projects/<int:project_id>/renders/<int:render_id>/comments/", review.render_comment,
         name="render_comment"),
    path("projects/<int:project_id>/renders/<int:render_id>/compare/", review.render_compare, name="render_compare"),
    path("projects/<int:project_id>/activity/", review.project_activity, name="project_activity"),
    path("webhooks/<uuid:key_uuid>/", webhooks.webhook, name="webhook"),
]
