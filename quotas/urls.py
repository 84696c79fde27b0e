from django.urls import path

from quotas import dashboard, views

urlpatterns = [
    path("usage/", views.usage, name="usage"),
    path("staff/", dashboard.dashboard, name="staff_dashboard"),
]
