from django.urls import path

from projects import views

urlpatterns = [
    path("", views.project_list, name="project_list"),
    path("projects/new/", views.project_create, name="project_create"),
    path("projects/<int:project_id>/settings/", views.project_settings, name="project_settings"),
    path("projects/<int:project_id>/archive/", views.project_archive, name="project_archive"),
    path("projects/<int:project_id>/restore/", views.project_restore, name="project_restore"),
    path("projects/<int:project_id>/leave/", views.project_leave, name="project_leave"),
    path("projects/<int:project_id>/members/", views.members, name="members"),
    path("projects/<int:project_id>/members/add/", views.member_add, name="member_add"),
    path("projects/<int:project_id>/members/invite/", views.member_invite, name="member_invite"),
    path("projects/<int:project_id>/members/<int:membership_id>/role/", views.member_role, name="member_role"),
    path("projects/<int:project_id>/members/<int:membership_id>/remove/", views.member_remove,
         name="member_remove"),
    path("projects/<int:project_id>/invitations/<int:invitation_id>/revoke/", views.invitation_revoke,
         name="invitation_revoke"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
