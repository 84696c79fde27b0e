"""What people do to renders: submit (every entry point submits through it: the studio page, remix, retry),
retry, cancel and delete. Each checks the person's role in the project first (projects.access).

Nothing here calls the provider: the create is enqueued on commit and done by the pipeline.
"""

import uuid

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from projects.access import get_membership
from projects.models import Role
from quotas import services as quotas
from renders import enqueue, keypool, timing
from renders.lifecycle import transition
from renders.models import EventKind, Render, prompt_hash
from renders.references import check_for_video
from renders.states import FINAL, Status


class RenderError(Exception):
    """A request about a render that cannot be done now; the message says why, in plain words."""


# --- submit --------------------------------------------------------------------------------------

def validate(*, prompt, model, size, seconds):
    """Cleaned (prompt, model, size, seconds) or ValidationError naming each bad field."""
    errors = {}
    prompt = (prompt or "").strip()
    if not prompt:
        errors["prompt"] = "Describe the video you want."
    elif len(prompt) > settings.RENDER_PROMPT_MAX_CHARS:
        errors["prompt"] = f"The prompt is {len(prompt)} characters; the most is {settings.RENDER_PROMPT_MAX_CHARS}."
    models = settings.RENDER_MODELS
    if model not in models:
        errors["model"] = f"Choose a model: {', '.join(models)}."
    elif size not in models[model]:
        errors["size"] = f"{model} renders only {', '.join(models[model])}."
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        seconds = None
    if seconds not in settings.RENDER_SECONDS:
        errors["seconds"] = f"Choose a length of {', '.join(map(str, settings.RENDER_SECONDS))} seconds."
    if errors:
        raise ValidationError(errors)
    return prompt, model, size, seconds


def check_remix_parent(parent, project):
    if parent.project_id != project.pk:
        raise ValidationError({"remix_of": "Only a render of this project can be remixed here."})
    if parent.is_deleted:
        raise ValidationError({"remix_of": "That render was deleted."})
    if parent.status != Status.COMPLETED or not parent.provider_video_id or parent.api_key is None:
        raise ValidationError({"remix_of": "Only a completed render can be remixed."})
    key = parent.api_key
    if not (key.can_remix_endpoint or key.can_remix_by_create):
        raise ValidationError({"remix_of": f"The provider of {key.name} does not support remixes."})
    if parent.provider_expires_at and parent.provider_expires_at <= timezone.now():
        raise ValidationError({"remix_of": "The provider no longer keeps this video, so it cannot be remixed."})


# one submit makes at most this many renders of the same prompt and settings
MAX_VARIATIONS = 4


def submit(user, project, *, prompt, model=None, size=None, seconds=None, reference_image=None, remix_of=None,
           retry_of=None):
    """Validate, reserve the quota, create the render and enqueue its create once the transaction commits.

    Needs the editor role. A remix takes its parent's model, size and length (the provider's remix keeps
    them) and is pinned to the parent's key. A reference image gets the submit form's checks
    (renders.references). Raises ValidationError (a dict by field), quotas' QuotaExceeded (nothing is
    created), Http404 / PermissionDenied from projects.access."""
    return _submit(user, project, 1, prompt=prompt, model=model, size=size, seconds=seconds,
                   reference_image=reference_image, remix_of=remix_of, retry_of=retry_of)[0]


def submit_variations(user, project, count, *, prompt, model=None, size=None, seconds=None, reference_image=None,
                      remix_of=None):
    """`count` (1 to MAX_VARIATIONS) renders of the same prompt and settings, as one group: submit's checks,
    then every limit reserved for all of them at once or for none (quotas.reserve_all). Each is an ordinary
    render afterwards (its own provider job, retry, cancel and charge). Returns them by variation number."""
    try:
        count = int(count)
    except (TypeError, ValueError):
        count = 0
    if not 1 <= count <= MAX_VARIATIONS:
        raise ValidationError({"variations": f"Choose from 1 to {MAX_VARIATIONS} variations."})
    return _submit(user, project, count, prompt=prompt, model=model, size=size, seconds=seconds,
                   reference_image=reference_image, remix_of=remix_of, retry_of=None)


def _submit(user, project, count, *, prompt, model, size, seconds, reference_image, remix_of, retry_of):
    get_membership(user, project.pk, Role.EDITOR, write=True)
    if remix_of is not None:
        check_remix_parent(remix_of, project)
        model, size, seconds = remix_of.model, remix_of.size, remix_of.seconds
        if reference_image is not None:
            raise ValidationError({"reference_image": "A remix starts from its parent video, not from an image."})
    prompt, model, size, seconds = validate(prompt=prompt, model=model, size=size, seconds=seconds)
    if remix_of is None and (refused := keypool.offer(project.pk).refusal(model, size, seconds)):
        raise ValidationError(refused)  # no key of the project renders it (a remix keeps its parent's key)
    image = check_for_video(reference_image, size) if reference_image is not None else None
    group = uuid.uuid4() if count > 1 else None

    with transaction.atomic():
        now = timezone.now()
        renders = []
        # the last variation first: the history lists newest first, so it reads 1, 2, 3 from the top
        for number in range(count, 0, -1):
            renders.append(Render.objects.create(
                project=project, author=user, prompt=prompt, model=model, size=size, seconds=seconds,
                remix_of=remix_of, retry_of=retry_of, prompt_hash=prompt_hash(prompt),
                api_key=remix_of.api_key if remix_of is not None else None,
                variation_group=group, variation_number=number, variation_count=count,
                created_at=now, updated_at=now,
                # the safety net if the enqueued message is lost (or the broker is down): the dispatcher sends it
                # after this
                next_attempt_at=timing.after(settings.RENDER_DISPATCH_LEASE_SECONDS),
            ))
        renders.reverse()
        # all or none: QuotaExceeded propagates, the transaction rolls back, nothing is created. At the highest
        # price of the keys that may serve them: the pool picks the key later
        quotas.reserve_all(renders, keypool.pool_for(renders[0]))
        what = "Remix submitted" if remix_of else "Retry submitted" if retry_of else "Submitted"
        for render in renders:
            if image is not None:
                # last, so a refusal above leaves no file behind; each render keeps its own copy
                render.reference_image.save(f"reference.{image.ext}", ContentFile(image.content), save=False)
                render.save(update_fields=["reference_image"])
            which = f" (variation {render.variation_number} of {count})" if count > 1 else ""
            render.events.create(kind=EventKind.SUBMITTED, status_to=render.status, source="user",
                                 message=f"{what} by {user.get_username()}: {model}, {size}, {seconds} s{which}.")
            enqueue.on_commit("create_render", render.pk, timing.due_token(render.next_attempt_at))
    return renders


def retry(render, user):
    """Try again: a NEW render with the same prompt, settings, reference image and parent (a failed or canceled
    render keeps its own history). Goes through submit, so it is validated and charged like any render. The rule of
    cancel and delete: editors their own renders, owners any (the retrier is charged, so not for someone else's)."""
    _change_allowed(render, user)
    if render.status not in (Status.FAILED, Status.CANCELED):
        raise RenderError("Only a failed or canceled render can be tried again.")
    if render.is_deleted:
        raise RenderError("This render was deleted; submit its prompt again instead.")
    image = None
    if render.reference_image:
        with render.reference_image.open("rb") as f:
            image = ContentFile(f.read(), name="reference")
    return submit(user, render.project, prompt=render.prompt, model=render.model, size=render.size,
                  seconds=render.seconds, reference_image=image, remix_of=render.remix_of, retry_of=render)


# --- cancel and delete -----------------------------------------------------------------------------

def _change_allowed(render, user):
    membership = get_membership(user, render.project_id, Role.EDITOR, write=True)
    if not membership.can_change(render.author_id):
        raise PermissionDenied("Editors can change only their own renders; an owner can change any.")


def cancel(render, user):
    """Cancel a render whose create has not been sent (waiting in our queue or for a key). Once the provider
    accepted the job it is billed, so it runs to the end: RenderError says so."""
    _change_allowed(render, user)
    with transaction.atomic():
        render.refresh_from_db()
        if not render.can_cancel:
            if render.is_final:
                raise RenderError(f"This render is already {render.get_status_display().lower()}.")
            raise RenderError("The provider has already accepted this render; it is billed and will run to the end.")
        if not transition(render, Status.CANCELED, source="user", message=f"Canceled by {user.get_username()}.",
                          refund_reason=quotas.RefundReason.CANCELED, next_attempt_at=None):
            raise RenderError("The render was sent to the provider a moment ago; it will run to the end.")
    return render


def delete(render, user):
    """Soft delete: the row, its events and its lineage stay ("parent deleted" for its remixes); the stored
    files are removed by a task. A render in flight cannot be deleted (cancel it first, if it was not sent)."""
    _change_allowed(render, user)
    with transaction.atomic():
        now = timezone.now()
        done = Render.objects.filter(pk=render.pk, status__in=FINAL, deleted_at__isnull=True).update(
            deleted_at=now, updated_at=now)
        render.refresh_from_db()
        if not done:
            if render.is_deleted:
                return render
            raise RenderError("A render in flight cannot be deleted; wait for it to finish, or cancel it if it "
                              "has not been sent.")
        render.note(EventKind.DELETED, f"Deleted by {user.get_username()}.", source="user")
        enqueue.on_commit("remove_render_files", render.pk)
    return render
