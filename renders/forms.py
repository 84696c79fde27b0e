"""The studio's forms: submit a render (with its reference image), narrow the history, notification settings.

A reference image is checked by its content (renders.references, the same checks as renders.actions.submit). A
refused file is never stored. A good image whose pixel size differs from the video's is cropped from the centre
and resized with Pillow, when the person chose "use the cropped image".
"""

import re
import secrets

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile

from renders.actions import MAX_VARIATIONS
from renders.history import STATUS_FILTERS, Filters
from renders.models import NotificationSettings
from renders.references import crop_to, inspect_reference, megabytes, preview_data_url

# a valid image refused for another reason (a typo in the prompt, the quota) is kept this long, so it need
# not be chosen again; only images that passed every check are kept, and only in the cache
KEPT_REFERENCE_SECONDS = 3600


# --- keeping a good image across a refused submission ----------------------------------------------------

def _kept_key(user_id, token):
    return f"studio:reference:{user_id}:{token}"


def keep_reference(user, reference):
    token = secrets.token_urlsafe(16)
    cache.set(_kept_key(user.pk, token), {"content": reference.content, "name": reference.name},
              KEPT_REFERENCE_SECONDS)
    return token


def kept_reference(user, token):
    if not token or not re.fullmatch(r"[\w-]{10,64}", token):
        return None
    kept = cache.get(_kept_key(user.pk, token))
    if not kept:
        return None
    upload = ContentFile(kept["content"], name=kept["name"])
    upload.size = len(kept["content"])
    return inspect_reference(upload)


def forget_reference(user, token):
    if token:
        cache.delete(_kept_key(user.pk, token))


# --- the forms -------------------------------------------------------------------------------------------

def size_label(size, offer):
    width, height = (int(v) for v in size.split("x"))
    shape = "portrait" if height > width else "landscape" if width > height else "square"
    only = [model for model in offer.models if size in offer.sizes(model)]
    suffix = f", {only[0]} only" if len(only) == 1 and len(offer.models) > 1 else ""
    return f"{size} ({shape}{suffix})"


class SubmitForm(forms.Form):
    prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "Wide shot: a red fox trots across fresh snow at "
                                                               "the edge of a pine forest, low golden light."}),
        help_text="Describe the shot, the subject, the action, the setting and the lighting.",
        error_messages={"required": "Describe the video you want."},
    )
    model = forms.ChoiceField(choices=[])
    size = forms.ChoiceField(choices=[])
    seconds = forms.TypedChoiceField(choices=[], coerce=int, label="Length")
    # renders of the same prompt and settings, to compare side by side; each is charged on its own
    variations = forms.TypedChoiceField(choices=[], coerce=int, required=False, empty_value=1, initial=1)
    reference_image = forms.FileField(
        required=False, label="Reference image (optional)",
        help_text="The first frame: a JPEG, PNG or WebP of at most 20 MB.",
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
    crop_reference = forms.BooleanField(required=False, label="Use the cropped image")
    reference_token = forms.CharField(required=False, widget=forms.HiddenInput)
    drop_reference = forms.BooleanField(required=False, label="Don’t use this image")

    def __init__(self, *args, user, offer, **kwargs):
        """`offer`: what the project's keys can render (renders.keypool.offer); the choices are only those."""
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.user = user
        self.offer = offer
        self.reference = None  # the ReferenceImage to send (cropped if asked), set by clean()
        self.kept = None  # a good image to keep when the submission fails (ReferenceImage)
        self.kept_token = ""
        self.preview = ""  # data: URL of the centre crop when the image's size differs
        self.fields["model"].choices = [(m, m) for m in offer.models]
        self.fields["size"].choices = [(s, size_label(s, offer)) for s in offer.sizes()]
        self.fields["seconds"].choices = [(s, f"{s} seconds") for s in offer.seconds()]
        for name, values in (("model", offer.models), ("size", offer.sizes()), ("seconds", offer.seconds())):
            self.fields[name].error_messages["invalid_choice"] = (
                f"Select a valid choice{offer.by_keys}: {', '.join(map(str, values))}.")
        self.fields["variations"].choices = [(1, "1 render")] + [
            (n, f"{n}, side by side") for n in range(2, MAX_VARIATIONS + 1)]
        self.fields["reference_image"].help_text = (
            f"The first frame: a JPEG, PNG or WebP of at most {megabytes(settings.RENDER_REFERENCE_MAX_BYTES)}.")

    def clean_prompt(self):
        prompt = self.cleaned_data["prompt"].strip()
        if len(prompt) > settings.RENDER_PROMPT_MAX_CHARS:
            raise ValidationError(f"The prompt is {len(prompt)} characters; the most is "
                                  f"{settings.RENDER_PROMPT_MAX_CHARS}.")
        return prompt

    def clean_reference_image(self):
        upload = self.cleaned_data.get("reference_image")
        if not upload:
            return None
        return inspect_reference(upload)

    def clean(self):
        data = super().clean()
        model, size = data.get("model"), data.get("size")
        if model:
            # a choice the fields accept may still be one no key offers with the others (a size of another model,
            # a length the keys render only at another size)
            for field, message in self.offer.refusal(model, size, data.get("seconds")).items():
                self.add_error(field, message)
                size = None if field == "size" else size
        reference = data.get("reference_image")
        token = data.get("reference_token") or ""
        if reference is None and token and not data.get("drop_reference") and "reference_image" not in self.errors:
            try:
                reference = kept_reference(self.user, token)
            except ValidationError:
                reference = None
            if reference is None:
                self.add_error("reference_image", "The image you chose earlier is no longer kept. Choose it again.")
            else:
                self.kept_token = token
        if reference is None:
            return data
        self.kept = reference
        if size and not reference.fits(size):
            if data.get("crop_reference"):
                reference = crop_to(reference, size)
            elif reference.size == size:
                reference = crop_to(reference, size)  # only turned upright (EXIF orientation): nothing is cut
            else:
                self.preview = preview_data_url(reference, size)
                self.add_error("reference_image", (
                    f"The image is {reference.size} pixels and the video is {size}. Tick “Use the cropped "
                    "image” to crop it from the centre and resize it, or choose an image of exactly that size."))
                return data
        self.reference = reference
        return data

    def reference_file(self):
        """The checked (and maybe cropped) reference as a file for renders.actions.submit, or None."""
        if self.reference is None:
            return None
        return ContentFile(self.reference.content, name=f"reference.{self.reference.ext}")

    def keep(self):
        """After a failed submission: keep the good image so the person need not choose it again."""
        if self.kept is not None and not self.kept_token:
            self.kept_token = keep_reference(self.user, self.kept)
        return self.kept_token

    def forget(self):
        forget_reference(self.user, self.kept_token or (self.data.get("reference_token") if self.data else ""))

    @property
    def crop_needed(self):
        return bool(self.preview)


class HistoryFilterForm(forms.Form):
    """The history's filters and page cursors, from the query string; a bad value is ignored, not refused.
    (The author select lists the project's members; any user id filters, so this needs no query.)"""

    q = forms.CharField(required=False, max_length=200, label="Search prompts")
    status = forms.ChoiceField(required=False, choices=[("", "Any status")] + [
        (key, label) for key, (label, _statuses) in STATUS_FILTERS.items()])
    model = forms.ChoiceField(required=False, choices=[])
    favourites = forms.BooleanField(required=False, label="My favourites")
    before = forms.IntegerField(required=False, min_value=1, max_value=2**62, widget=forms.HiddenInput)
    after = forms.IntegerField(required=False, min_value=1, max_value=2**62, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [("", "Any model")] + [(m, m) for m in settings.RENDER_MODELS]

    def filters(self):
        """The cleaned filters; a value that does not parse is dropped."""
        if not self.is_bound:
            return Filters()
        data = {}
        for name in ("q", "status", "model", "favourites"):
            try:
                data[name] = self.fields[name].clean(self.data.get(name, ""))
            except ValidationError:
                data[name] = False if name == "favourites" else ""
        author = str(self.data.get("author") or "")
        return Filters(status=data["status"] or "", model=data["model"] or "",
                       author=int(author) if author.isdigit() and len(author) < 19 else None,
                       favourites=bool(data["favourites"]), q=(data["q"] or "").strip())

    def cursor(self, name):
        try:
            return self.fields[name].clean(self.data.get(name) or None) if self.is_bound else None
        except ValidationError:
            return None


class NotificationSettingsForm(forms.ModelForm):
    class Meta:
        model = NotificationSettings
        fields = ["email_on_finish"]
        labels = {"email_on_finish": "Email me when one of my renders completes or fails"}
        help_texts = {"email_on_finish": "Notices appear on every page either way; this adds an email to your "
                                         "address on file."}
