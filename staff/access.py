"""Who may see the staff pages: staff only. Non-staff get 403 (signed out: the sign-in page)."""

from functools import wraps

from django.core.exceptions import PermissionDenied


def staff_only(view):
    """After login_required: 403 for signed-in people who are not staff (the page's existence is no secret)."""
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied("Only staff can see this page.")
        return view(request, *args, **kwargs)
    return wrapper
