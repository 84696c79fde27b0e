from django.urls import path

from renders import views

urlpatterns = [
    path("projects/<int:project_id>/", views.studio, name="studio"),
]
