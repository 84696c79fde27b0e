"""Projects, members and invitations: one screen, one function view; every project through projects.access."""


from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from projects import services
from projects.access import get_in_project, get_membership
from projects.forms import AddMemberForm, InvitationSignupForm, InviteForm, ProjectForm, RoleForm
from projects.models import Invitation, Membership, Role
from projects.queries import project_cards
from soraweb import ratelimits


@login_required
@require_GET
def project_list(request):
    cards = project_cards(request.user)
    return render(request, "projects/project_list.html", {
        "active": [c for c in cards if not c.project.is_archived],
        "archived": [c for c in cards if c.project.is_archived],
    })


@login_required
@require_http_methods(["GET", "POST"])
def project_create(request):
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        project = services.create_project(request.user, form.cleaned_data["name"], form.cleaned_data["description"])
        messages.success(request, f"Created {project.name}. You are its owner.")
        return redirect("studio", project_id=project.pk)
    return render(request, "projects/project_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def project_settings(request, project_id):
    membership = get_membership(request.user, project_id, Role.OWNER, write=request.method == "POST")
    project = membership.project
    form = ProjectForm(request.POST or None, instance=project)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_project(project, form.cleaned_data["name"], form.cleaned_data["description"])
        except services.ProjectError as e:
            messages.error(request, e.message)
        else:
            messages.success(request, "Saved.")
        return redirect("project_settings", project_id=project.pk)
    return render(request, "projects/project_settings.html", {
        "project": project, "membership": membership, "form": form,
    })


@login_required
@require_POST
def project_archive(request, project_id):
    project = get_membership(request.user, project_id, Role.OWNER).project
    services.archive_project(project)
    messages.success(request, f"Archived {project.name}: it is read-only until an owner restores it.")
    return redirect("project_list")


@login_required
@require_POST
def project_restore(request, project_id):
    project = get_membership(request.user, project_id, Role.OWNER).project
    services.restore_project(project)
    messages.success(request, f"Restored {project.name}.")
    return redirect("studio", project_id=project.pk)


@login_required
@require_POST
def project_leave(request, project_id):
    membership = get_membership(request.user, project_id)
    try:
        services.leave_project(membership)
    except services.ProjectError as e:
        messages.error(request, e.message)
        return redirect("members", project_id=project_id)
    messages.success(request, f"You left {membership.project.name}.")
    return redirect("project_list")


# --- members ------------------------------------------------------------------------------------------

INVITATION_LINK_KEY = "projects.invitation_link"

def _members_page(request, membership, add_form=None, invite_form=None, status=200):
    project = membership.project
    members = project.memberships.select_related("user").order_by("user__username")
    can_manage = membership.has_role(Role.OWNER) and not project.is_archived
    context = {
        "project": project,
        "membership": membership,
        "members": members,
        "owner_count": sum(1 for m in members if m.role == Role.OWNER),
        "can_manage": can_manage,
        "roles": [(Role(value), label) for value, label in Role.choices],
        "invitations": project.invitations.pending().select_related("invited_by") if can_manage else [],
        "add_form": add_form or AddMemberForm(),
        "invite_form": invite_form or InviteForm(),
        # the link of the invitation just made (member_invite): in clear once, with a copy button
        "invitation_link": request.session.pop(INVITATION_LINK_KEY, None) if can_manage else None,
    }
    return render(request, "projects/members.html", context, status=status)


@login_required
@require_GET
def members(request, project_id):
    return _members_page(request, get_membership(request.user, project_id))


@login_required
@require_POST
def member_add(request, project_id):
    membership = get_membership(request.user, project_id, Role.OWNER, write=True)
    form = AddMemberForm(request.POST)
    if form.is_valid():
        try:
            added = services.add_member(membership.project, form.cleaned_data["username"], form.cleaned_data["role"])
        except services.ProjectError as e:
            form.add_error("username", e.message)
        else:
            messages.success(request, f"Added {added.user.get_username()} as {added.get_role_display().lower()}.")
            return redirect("members", project_id=project_id)
    return _members_page(request, membership, add_form=form)


@login_required
@require_POST
def member_invite(request, project_id):
    membership = get_membership(request.user, project_id, Role.OWNER, write=True)
    if refused := ratelimits.count("invite", request.user):
        return ratelimits.too_many(request, refused)
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invitation, url = services.invite(
                membership.project, form.cleaned_data["email"], form.cleaned_data["role"], request.user,
                anyone_with_link=form.cleaned_data["anyone_with_link"],
            )
        except services.ProjectError as e:
            form.add_error("email", e.message)
        else:
            # the link exists in clear only now: show it once (the members page pops it from the session), so it can
            # be copied and shared another way too
            messages.success(request, f"Invitation sent to {invitation.email}.")
            request.session[INVITATION_LINK_KEY] = {
                "email": invitation.email, "url": url, "expires": f"{invitation.expires_at:%Y-%m-%d %H:%M} UTC"}
            return redirect("members", project_id=project_id)
    return _members_page(request, membership, invite_form=form)


@login_required
@require_POST
def member_role(request, project_id, membership_id):
    membership = get_membership(request.user, project_id, Role.OWNER, write=True)
    target = get_in_project(membership, Membership.objects.select_related("user", "project"), pk=membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role: viewer, editor or owner.")
    else:
        try:
            services.change_role(target, form.cleaned_data["role"])
        except services.ProjectError as e:
            messages.error(request, e.message)
        else:
            messages.success(request, f"{target.user.get_username()} is now {target.get_role_display().lower()}.")
    if target.user_id == request.user.id and not target.has_role(Role.OWNER):
        return redirect("studio", project_id=project_id)  # no longer allowed on the members page's forms
    return redirect("members", project_id=project_id)


@login_required
@require_POST
def member_remove(request, project_id, membership_id):
    membership = get_membership(request.user, project_id, Role.OWNER, write=True)
    target = get_in_project(membership, Membership.objects.select_related("user", "project"), pk=membership_id)
    try:
        services.remove_member(target)
    except services.ProjectError as e:
        messages.error(request, e.message)
        return redirect("members", project_id=project_id)
    messages.success(request, f"Removed {target.user.get_username()} from {target.project.name}.")
    if target.user_id == request.user.id:
        return redirect("project_list")
    return redirect("members", project_id=project_id)


@login_required
@require_POST
def invitation_revoke(request, project_id, invitation_id):
    membership = get_membership(request.user, project_id, Role.OWNER, write=True)
    invitation = get_in_project(membership, Invitation, pk=invitation_id)
    services.revoke_invitation(invitation)
    messages.success(request, f"Withdrew the invitation to {invitation.email}.")
    return redirect("members", project_id=project_id)


# --- accepting an invitation --------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
def invitation_accept(request, token):
    """Public. A visitor creates an account and joins; a signed-in user joins if the invitation admits them: an
    account with the invited address, or anyone when the owner opened the link."""
    invitation = get_object_or_404(Invitation.objects.by_token(token).select_related("project", "invited_by"))
    if not invitation.is_pending:
        return _gone(request)
    context = {"invitation": invitation, "project": invitation.project}
    if invitation.project.is_archived:
        context["problem"] = "This project is archived: ask an owner to restore it, then use the link again."
        return render(request, "projects/invitation.html", context, status=409)

    if request.user.is_authenticated:
        if not invitation.admits(request.user):
            return _for_another_address(request, invitation)
        context["already_member"] = invitation.project.memberships.filter(user=request.user).first()
        if request.method == "POST":
            return _accept(request, invitation, request.user, context)
        return render(request, "projects/invitation.html", context)

    form = InvitationSignupForm(request.POST or None, invitation=invitation)
    context["form"] = form
    context["login_url"] = f"{reverse('login')}?next={request.path}"
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                user = form.save()
                membership = services.accept_invitation(invitation, user)
        except services.InvitationGone:
            return _gone(request)
        except services.ProjectError as e:
            context["problem"] = e.message
            return render(request, "projects/invitation.html", context, status=409)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome! You joined {membership.project.name} as "
                                  f"{membership.get_role_display().lower()}.")
        return redirect("studio", project_id=membership.project_id)
    return render(request, "projects/invitation.html", context)


def _gone(request):
    """A used, withdrawn or expired link: the page says that much and nothing of the project or the people."""
    return render(request, "projects/invitation.html", {"gone": services.INVITATION_GONE}, status=410)


def _for_another_address(request, invitation):
    """A signed-in account the bound invitation is not for: told so and to sign in with the invited address, shown
    masked. Like a dead link's page it names no project and nobody: the reader may have a forwarded link."""
    return render(request, "projects/invitation.html", {
        "for_another_address": services.INVITATION_FOR_ANOTHER_ADDRESS, "masked_email": invitation.masked_email,
    }, status=403)


def _accept(request, invitation, user, context):
    try:
        membership = services.accept_invitation(invitation, user)
    except services.InvitationGone:
        return _gone(request)
    except services.InvitationForAnotherAddress:
        return _for_another_address(request, invitation)
    except services.ProjectError as e:
        context["problem"] = e.message
        return render(request, "projects/invitation.html", context, status=409)
    messages.success(request, f"You joined {membership.project.name} as {membership.get_role_display().lower()}.")
    return redirect("studio", project_id=membership.project_id)
