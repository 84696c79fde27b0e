from django.conf import settings

from soraweb import health


def site(request):
    user = getattr(request, "user", None)
    quiet = health.quiet_processes() if user is not None and user.is_staff else []
    return {"SITE_URL": settings.SITE_URL, "quiet_processes": quiet}
