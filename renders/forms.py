"""The studio's forms: submit a render (with its reference image), narrow the history, notification settings.

A reference image is judged by its bytes, never by its name or the browser's content type: it must be one
whole JPEG, PNG or WebP and nothing else (no second file hidden after its end or inside it), at most
RENDER_REFERENCE_MAX_BYTES, at most REFERENCE_MAX_PIXELS (so a small file cannot unpack into gigabytes), and
decode completely. A refused file is never stored. A good image whose pixel size differs from the video's
is cropped from the centre and resized with Pillow, when the person chose "use the cropped image".
"""

import base64
import io
import re
import secrets
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile

from renders.history import STATUS_FILTERS, Filters
from renders.models import NotificationSettings

REFERENCE_FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}
# 40 megapixels: any camera's photo, yet a decode stays near 120 MB (RGB), not the gigabytes of a bomb
REFERENCE_MAX_PIXELS = getattr(settings, "RENDER_REFERENCE_MAX_PIXELS", 40_000_000)
# a valid image refused for another reason (a typo in the prompt, the quota) is kept this long, so it need
# not be chosen again; only images that passed every check are kept, and only in the cache
KEPT_REFERENCE_SECONDS = 3600
PREVIEW_WIDTH = 320

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Another format inside an image: markup a browser would run, PHP, a PDF header (readers look in the first KB),
# a ZIP/JAR end-of-directory record (readers look in the last 64 KB). Signatures long enough that compressed
# pixel data does not produce them by chance.
EMBEDDED = re.compile(rb"<\s*(script|html|body|iframe|object|embed)\b|<\?php|<!doctype", re.IGNORECASE)
PDF_HEAD, ZIP_TAIL = 1024, 65_557


def _mb(n):
    return f"{n / (1024 * 1024):.1f}".rstrip("0").rstrip(".") + " MB"


@dataclass
class ReferenceImage:
    """A reference image that passed every check: its bytes, format and pixel size (as displayed, EXIF
    orientation applied)."""

    content: bytes
    format: str
    width: int
    height: int
    name: str = "reference"
    upright: bool = True  # False: an EXIF orientation turns it, so it is re-encoded upright before use

    @property
    def size(self):
        return f"{self.width}x{self.height}"

    @property
    def ext(self):
        return REFERENCE_FORMATS[self.format][0]

    def fits(self, size):
        return self.size == size and self.upright


# --- checks by content -----------------------------------------------------------------------------------

def _image_end(data, image_format):
    """Offset just past the image's own last byte, by walking its structure; None when the structure is
    broken or ends early (a truncated or forged file)."""
    n = len(data)
    if image_format == "PNG":
        i = len(PNG_MAGIC)
        while i + 12 <= n:
            length = int.from_bytes(data[i:i + 4], "big")
            chunk = data[i + 4:i + 8]
            i += 12 + length
            if chunk == b"IEND":
                return i if i <= n else None
        return None
    if image_format == "WEBP":
        end = 8 + int.from_bytes(data[4:8], "little")
        return end if end <= n else None
    # JPEG: segments with lengths, and after each start-of-scan the entropy-coded data up to the next
    # marker (0xFF followed by anything but a stuffed 0x00, a restart marker or a fill byte)
    i = 2
    while i < n:
        if data[i] != 0xFF:
            return None
        while i < n and data[i] == 0xFF:
            i += 1
        if i >= n:
            return None
        marker = data[i]
        i += 1
        if marker == 0xD9:  # end of image
            return i
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        if i + 2 > n:
            return None
        length = int.from_bytes(data[i:i + 2], "big")
        if length < 2:
            return None
        i += length
        if marker == 0xDA:  # start of scan
            while True:
                i = data.find(b"\xff", i)
                if i < 0 or i + 1 >= n:
                    return None
                following = data[i + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:
                    i += 2
                elif following == 0xFF:
                    i += 1
                else:
                    break
    return None


def _sniff(head):
    if head.startswith(PNG_MAGIC):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def inspect_reference(upload):
    """Check an uploaded reference image by its content; return a ReferenceImage or raise ValidationError
    with a message that says what is wrong, in plain words."""
    from PIL import Image, UnidentifiedImageError

    limit = settings.RENDER_REFERENCE_MAX_BYTES
    if getattr(upload, "size", 0) and upload.size > limit:
        raise ValidationError(f"The image is {_mb(upload.size)}; the most is {_mb(limit)}.")
    upload.seek(0)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(f"The image is larger than {_mb(limit)}, the most allowed.")
    if not data:
        raise ValidationError("The file is empty.")
    image_format = _sniff(data[:16])
    if image_format is None:
        raise ValidationError("This file is not a JPEG, PNG or WebP image, whatever its name says. "
                              "Choose a JPEG, PNG or WebP.")
    end = _image_end(data, image_format)
    if end is None:
        raise ValidationError("The image is damaged or cut short: it could not be read. Save it again and retry.")
    if data[end:].strip(b"\x00\r\n\t "):
        raise ValidationError("The file carries other data after the end of the image (another file hidden in "
                              "it). Save it again as a plain image and retry.")
    if EMBEDDED.search(data) or b"%PDF-" in data[:PDF_HEAD] or b"PK\x05\x06" in data[-ZIP_TAIL:]:
        raise ValidationError("The image carries embedded markup or another file's content (a polyglot file). "
                              "Save it again as a plain image and retry.")
    try:
        with Image.open(io.BytesIO(data), formats=[image_format]) as image:
            width, height = image.size
            if width * height > REFERENCE_MAX_PIXELS:
                raise ValidationError(
                    f"The image is {width}x{height} pixels, more than the {REFERENCE_MAX_PIXELS // 1_000_000} "
                    "megapixels we can process. Scale it down and retry.")
            if getattr(image, "n_frames", 1) > 1:
                raise ValidationError("Animated images cannot be a first frame. Choose a still image.")
            image.load()  # decode it all: a truncated or corrupt image fails here, not at the provider
            orientation = image.getexif().get(0x0112, 1)
            if orientation in (5, 6, 7, 8):
                width, height = height, width
    except Image.DecompressionBombError:
        raise ValidationError("The image unpacks into far more pixels than its file size suggests (a "
                              "decompression bomb). Choose another image.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise ValidationError("The image could not be read: it is damaged or not really a "
                              f"{image_format.title()} file.") from None
    return ReferenceImage(data, image_format, width, height, name=getattr(upload, "name", "") or "reference",
                          upright=orientation in (1, None))


def crop_to(reference, size):
    """The reference cropped from the centre to the video's aspect ratio and resized to exactly `size`
    (EXIF orientation applied), in its own format."""
    from PIL import Image, ImageOps

    width, height = (int(v) for v in size.split("x"))
    with Image.open(io.BytesIO(reference.content)) as image:
        image = ImageOps.exif_transpose(image)
        fitted = ImageOps.fit(image, (width, height), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    keep_alpha = reference.format in ("PNG", "WEBP") and fitted.mode in ("RGBA", "LA", "PA")
    fitted = fitted.convert("RGBA" if keep_alpha else "RGB")
    out = io.BytesIO()
    options = {"JPEG": {"quality": 92, "optimize": True}, "WEBP": {"quality": 92}, "PNG": {"optimize": True}}
    fitted.save(out, reference.format, **options[reference.format])
    return ReferenceImage(out.getvalue(), reference.format, width, height, name=reference.name)


def preview_data_url(reference, size):
    """A small JPEG of the centre crop as a data: URL (the CSP allows data: images), for the page to show
    what "use the cropped image" will send, also without JavaScript."""
    from PIL import Image, ImageOps

    width, height = (int(v) for v in size.split("x"))
    preview = (PREVIEW_WIDTH, max(1, round(PREVIEW_WIDTH * height / width)))
    with Image.open(io.BytesIO(reference.content)) as image:
        small = ImageOps.fit(ImageOps.exif_transpose(image), preview, method=Image.Resampling.BILINEAR)
    out = io.BytesIO()
    small.convert("RGB").save(out, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


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

def _sizes():
    seen = []
    for sizes in settings.RENDER_MODELS.values():
        seen += [s for s in sizes if s not in seen]
    return seen


def size_label(size):
    width, height = (int(v) for v in size.split("x"))
    shape = "portrait" if height > width else "landscape" if width > height else "square"
    only = [model for model, sizes in settings.RENDER_MODELS.items() if size in sizes]
    suffix = f", {only[0]} only" if len(only) == 1 and len(settings.RENDER_MODELS) > 1 else ""
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
    reference_image = forms.FileField(
        required=False, label="Reference image (optional)",
        help_text="The first frame: a JPEG, PNG or WebP of at most 20 MB.",
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
    crop_reference = forms.BooleanField(required=False, label="Use the cropped image")
    reference_token = forms.CharField(required=False, widget=forms.HiddenInput)
    drop_reference = forms.BooleanField(required=False, label="Don’t use this image")

    def __init__(self, *args, user, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.user = user
        self.reference = None  # the ReferenceImage to send (cropped if asked), set by clean()
        self.kept = None  # a good image to keep when the submission fails (ReferenceImage)
        self.kept_token = ""
        self.preview = ""  # data: URL of the centre crop when the image's size differs
        self.fields["model"].choices = [(m, m) for m in settings.RENDER_MODELS]
        self.fields["size"].choices = [(s, size_label(s)) for s in _sizes()]
        self.fields["seconds"].choices = [(s, f"{s} seconds") for s in settings.RENDER_SECONDS]
        self.fields["reference_image"].help_text = (
            f"The first frame: a JPEG, PNG or WebP of at most {_mb(settings.RENDER_REFERENCE_MAX_BYTES)}.")

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
        if model and size and size not in settings.RENDER_MODELS[model]:
            self.add_error("size", f"{model} renders only {', '.join(settings.RENDER_MODELS[model])}.")
            size = None
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
        """The checked (and maybe cropped) reference as a file for renders.services.submit, or None."""
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
