"""The user's own settings page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from renders.forms import NotificationSettingsForm
from renders.models import NotificationSettings


@login_required
@require_http_methods(["GET", "POST"])
def user_settings(request):
    """The user's own settings: whether notices also come by email."""
    instance = NotificationSettings.objects.filter(user=request.user).first() or NotificationSettings(
        user=request.user)
    # not `request.POST or None`: unticking the only box posts an empty form, which must still be saved
    form = NotificationSettingsForm(request.POST if request.method == "POST" else None, instance=instance)
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        saved.updated_at = timezone.now()
        saved.save()
        messages.success(request, "Saved. " + ("Notices will also come by email." if saved.email_on_finish
                                               else "Notices appear on the page only."))
        return redirect("user_settings")
    return render(request, "renders/user_settings.html", {"form": form})
