from django.urls import path

from quotas import views

urlpatterns = [
    path("usage/", views.usage, name="usage"),
]
