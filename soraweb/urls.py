from django.contrib import admin
from django.urls import include, path

from soraweb import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("csp-report/", views.csp_report, name="csp_report"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("staff.urls")),
    path("", include("renders.urls")),
    path("", include("quotas.urls")),
    path("", include("projects.urls")),
]
