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


class RoleForm(_Form, forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class InvitationSignupForm(_Form, UserCreationForm):
    """A new account for the invited address: the email comes from the invitation, not from the form."""

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ["username"]

    def __init__(self, *args, email, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.email = email
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autofocus": True})
        self.fields["username"].help_text = "What you sign in with: letters, digits and @ . + - _ only."
