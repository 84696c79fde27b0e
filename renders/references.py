"""Reference images (a render's first frame), judged by their bytes, never by their name or the browser's content
type: one whole JPEG, PNG or WebP and nothing else (no second file hidden after its end or inside it), at most
RENDER_REFERENCE_MAX_BYTES, at most RENDER_REFERENCE_MAX_PIXELS (so a small file cannot unpack into gigabytes), and
decoding completely. The submit form and renders.actions.submit use the same checks: `inspect_reference` for the
file itself, `check_for_video` for a file that must be the first frame of a video of a given size.

What is stored and sent to the provider is always a re-encoded copy (`without_metadata`): the pixels, turned upright
by their EXIF orientation, and an RGB colour profile, nothing else. A phone photo's EXIF carries where and when it
was taken (GPS), the camera's serial and more; XMP and comments can carry names. None of it is ours to keep or send.
"""

import base64
import io
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from PIL import Image, ImageOps, UnidentifiedImageError

REFERENCE_FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}
PREVIEW_WIDTH = 320

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Another format inside an image: markup a browser would run, PHP, a PDF header (readers look in the first KB),
# a ZIP/JAR end-of-directory record (readers look in the last 64 KB). Signatures long enough that compressed
# pixel data does not produce them by chance.
EMBEDDED = re.compile(rb"<\s*(script|html|body|iframe|object|embed)\b|<\?php|<!doctype", re.IGNORECASE)
PDF_HEAD, ZIP_TAIL = 1024, 65_557


def megabytes(n):
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
    limit = settings.RENDER_REFERENCE_MAX_BYTES
    if getattr(upload, "size", 0) and upload.size > limit:
        raise ValidationError(f"The image is {megabytes(upload.size)}; the most is {megabytes(limit)}.")
    upload.seek(0)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(f"The image is larger than {megabytes(limit)}, the most allowed.")
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
            if width * height > settings.RENDER_REFERENCE_MAX_PIXELS:
                raise ValidationError(
                    f"The image is {width}x{height} pixels, more than the "
                    f"{settings.RENDER_REFERENCE_MAX_PIXELS // 1_000_000} "
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


def _is_lossless_webp(data):
    """True when the WebP's image chunk is VP8L (lossless): its copy stays lossless."""
    i = 12
    while i + 8 <= len(data):
        tag, length = data[i:i + 4], int.from_bytes(data[i + 4:i + 8], "little")
        if tag in (b"VP8 ", b"VP8L"):
            return tag == b"VP8L"
        i += 8 + length + (length & 1)
    return False


def _encode(image, image_format, *, icc_profile=None, lossless=False):
    """`image` saved as `image_format` with its pixels and, if given, an RGB colour profile: nothing else."""
    keep_alpha = image_format in ("PNG", "WEBP") and image.has_transparency_data
    image = image.convert("RGBA" if keep_alpha else "RGB")
    # convert() copies .info, and Pillow writes some of it unasked (a JPEG's comment, a PNG's profile)
    image.info = {}
    options = {"JPEG": {"quality": 92, "optimize": True}, "PNG": {"optimize": True},
               "WEBP": {"lossless": True} if lossless else {"quality": 92}}[image_format]
    # a profile describes colours, not a person; only an RGB one fits the RGB pixels written (not CMYK, not gray)
    if icc_profile and icc_profile[16:20] == b"RGB ":
        options["icc_profile"] = icc_profile
    out = io.BytesIO()
    image.save(out, image_format, **options)
    return out.getvalue()


def without_metadata(reference):
    """The reference re-encoded in its own format, upright (EXIF orientation applied) and with no EXIF, GPS,
    XMP, comments or text chunks: what is stored and sent to the provider."""
    with Image.open(io.BytesIO(reference.content)) as image:
        icc_profile = image.info.get("icc_profile")
        upright = ImageOps.exif_transpose(image)
        content = _encode(upright, reference.format, icc_profile=icc_profile,
                          lossless=reference.format == "WEBP" and _is_lossless_webp(reference.content))
        width, height = upright.size
    return ReferenceImage(content, reference.format, width, height, name=reference.name)


def crop_to(reference, size):
    """The reference cropped from the centre to the video's aspect ratio and resized to exactly `size`
    (EXIF orientation applied), in its own format, without metadata (as `without_metadata`)."""
    width, height = (int(v) for v in size.split("x"))
    with Image.open(io.BytesIO(reference.content)) as image:
        icc_profile = image.info.get("icc_profile")
        image = ImageOps.exif_transpose(image)
        fitted = ImageOps.fit(image, (width, height), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    content = _encode(fitted, reference.format, icc_profile=icc_profile,
                      lossless=reference.format == "WEBP" and _is_lossless_webp(reference.content))
    return ReferenceImage(content, reference.format, width, height, name=reference.name)


def preview_data_url(reference, size):
    """A small JPEG of the centre crop as a data: URL (the CSP allows data: images), for the page to show
    what "use the cropped image" will send, also without JavaScript."""
    width, height = (int(v) for v in size.split("x"))
    preview = (PREVIEW_WIDTH, max(1, round(PREVIEW_WIDTH * height / width)))
    with Image.open(io.BytesIO(reference.content)) as image:
        small = ImageOps.fit(ImageOps.exif_transpose(image), preview, method=Image.Resampling.BILINEAR)
    out = io.BytesIO()
    small.convert("RGB").save(out, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


def check_for_video(upload, size):
    """The reference for a video of `size` pixels, or ValidationError by field: every check of
    `inspect_reference`, then exactly the video's size (the provider refuses any other); returned re-encoded
    upright and without metadata (`without_metadata`), whatever the caller did to it before."""
    try:
        reference = inspect_reference(upload)
    except ValidationError as exc:
        raise ValidationError({"reference_image": exc.messages}) from None
    if reference.size != size:
        raise ValidationError(
            {"reference_image": f"The image is {reference.size} pixels; it must be exactly {size} (the video's size)."}
        )
    return without_metadata(reference)
