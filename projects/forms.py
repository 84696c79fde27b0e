from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from projects.models import Project, Role


class _Form:
    """Labels without Django's trailing colon: the CSS sets labels apart already."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class ProjectForm(_Form, forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"description": "Optional: what this project is for, shown on the projects list."}

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the project a name.")
        return name


class AddMemberForm(_Form, forms.Form):
    # distinct ids: the add and invite forms share the members page (both have a "role")
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "add_%s")
        super().__init__(*args, **kwargs)

    username = forms.CharField(max_length=150, help_text="Someone who already has an account here.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.EDITOR)


class InviteForm(_Form, forms.Form):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "invite_%s")
        super().__init__(*args, **kwargs)

    email = forms.EmailField(help_text="They get a link to create an account, or to join with theirs.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.EDITOR)
    anyone_with_link = forms.BooleanField(
        required=False, label="Anyone with the link may join",
        help_text="Off: only an account with this email can use the link.")


class RoleForm(_Form, forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class InvitationSignupForm(_Form, UserCreationForm):
    """A new account through an invitation. A bound invitation's account gets the invited address (the form has
    no email field); an "anyone with the link" one asks for the newcomer's own address."""

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ["username"]

    def __init__(self, *args, invitation, **kwargs):
        super().__init__(*args, **kwargs)
        if invitation.anyone_with_link:
            self.fields["email"] = forms.EmailField(help_text="Yours: for password resets and notices.")
            self.fields["email"].widget.attrs["autocomplete"] = "email"
            self.order_fields(["username", "email"])
        else:
            self.instance.email = invitation.email
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autofocus": True})
        self.fields["username"].help_text = "What you sign in with: letters, digits and @ . + - _ only."

    def save(self, commit=True):
        if "email" in self.fields:
            self.instance.email = self.cleaned_data["email"]
        return super().save(commit)
