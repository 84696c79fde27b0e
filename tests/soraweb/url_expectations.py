"""The permission matrix's table: every named URL pattern of soraweb, and who may use it.

tests/soraweb/test_permission_matrix.py walks the URL configuration and FAILS for a pattern missing here (and for an
entry whose pattern is gone). When you add a URL, add one line to URLS, and a factory to PARAMS for any new
URL kwarg name.

    URLS["name"] = Expect(role, methods=("GET",), ok=(200, 302), data=None, status={}, get_status=405)

role        who may use it: PUBLIC (anyone, signed in or not), LOGIN (any signed-in user), VIEWER, EDITOR,
            OWNER (that role or higher in the URL's project), STAFF (is_staff users).
methods     methods the matrix sends. A pattern whose methods lack GET is an action: its GET must answer
            `get_status` (405: an action never acts on GET).
ok          statuses that mean "allowed" (e.g. add 206 for Range answers, 503 for health).
data        the POST body: a dict, or a callable(world) -> dict (it may create objects, e.g. a user to add).
status      overrides for one actor: {"anonymous": 400} (e.g. a webhook answers 400, not a login redirect).

What the matrix expects from the role (unless `status` overrides it):
    anonymous  PUBLIC -> ok; everything else -> 302 to the sign-in page
    outsider   PUBLIC, LOGIN -> ok; project roles -> 404 (a project's existence is not disclosed); STAFF -> 403
    viewer, editor, owner   rank >= role -> ok, else 403; STAFF -> 403
    staff      (only tried on STAFF patterns) -> ok

URL kwargs are filled by PARAMS[kwarg_name](world): a REAL object of world.project, a project the outsider is
not a member of (the outsider owns another one, world.outsider_project). So an outsider asking for a real
object still gets 404, and a second check swaps in the outsider's own project_id to prove that objects are
looked up inside the project of the URL. Register a factory with @param("render_id").
"""

from dataclasses import dataclass, field

from django.core.files.base import ContentFile

PUBLIC, LOGIN, VIEWER, EDITOR, OWNER, STAFF = "public", "login", "viewer", "editor", "owner", "staff"
RANKS = {VIEWER: 1, EDITOR: 2, OWNER: 3}


@dataclass(frozen=True)
class Expect:
    role: str
    methods: tuple = ("GET",)
    ok: tuple = (200, 302)
    data: object = None
    status: dict = field(default_factory=dict)
    get_status: int = 405


def _new_member_username(world):
    return {"username": world.make_user("newcomer").username, "role": "viewer"}


URLS = {
    # foundation
    "healthz": Expect(PUBLIC, ok=(200, 503)),  # 503 while no worker or beat heartbeat, as in tests
    # browsers post CSP violations here, without a session or a token; a form post is not a report (415)
    "csp_report": Expect(PUBLIC, methods=("POST",), ok=(415,)),
    "favicon": Expect(PUBLIC, ok=(301,)),  # to the static SVG icon
    # projects and members
    "project_list": Expect(LOGIN),
    "project_create": Expect(LOGIN, methods=("GET", "POST"), data={"name": "Matrix project"}),
    "project_settings": Expect(OWNER, methods=("GET", "POST"), data={"name": "Renamed", "description": ""}),
    "project_archive": Expect(OWNER, methods=("POST",)),
    "project_restore": Expect(OWNER, methods=("POST",)),
    "project_leave": Expect(VIEWER, methods=("POST",)),
    "members": Expect(VIEWER),
    "member_add": Expect(OWNER, methods=("POST",), data=_new_member_username),
    "member_invite": Expect(OWNER, methods=("POST",), data={"email": "new@example.org", "role": "viewer"}),
    "member_role": Expect(OWNER, methods=("POST",), data={"role": "viewer"}),
    "member_remove": Expect(OWNER, methods=("POST",)),
    "invitation_revoke": Expect(OWNER, methods=("POST",)),
    # the token is the credential: anyone holding the link may see it and join (or sign up and join)
    "invitation_accept": Expect(PUBLIC, methods=("GET", "POST"),
                                data={"username": "invitee", "password1": "a long passphrase 9",
                                      "password2": "a long passphrase 9"}),
    # renders
    # GET only here: a POST to the studio submits a render, which needs the editor role (viewers get 403;
    # tests/renders/studio/test_submit.py checks it, as the matrix keeps one role per URL)
    "studio": Expect(VIEWER),
    "studio_estimate": Expect(EDITOR),
    "studio_inflight": Expect(VIEWER),
    "render_favourite": Expect(VIEWER, methods=("POST",)),  # personal, so any member may star
    "notices": Expect(LOGIN, ok=(200, 204, 302)),  # 204: nothing new for this user (the every-page poll)
    "user_settings": Expect(LOGIN, methods=("GET", "POST"), data={"email_on_finish": "on"}),
    "render_asset": Expect(VIEWER, ok=(200,)),
    # the render page and its actions (renders/views/render.py); action errors come back as a message and a redirect,
    # a refused remix prompt as the page with the form (400): the matrix's render has no key that could remix it
    "render_detail": Expect(VIEWER),
    "render_compare": Expect(VIEWER),
    "render_variations": Expect(VIEWER),  # the side-by-side grid of a render's variations group
    "render_remix": Expect(EDITOR, methods=("POST",), ok=(302, 400), data={"prompt": "The same, at night"}),
    "render_retry": Expect(EDITOR, methods=("POST",), ok=(302,)),
    "render_cancel": Expect(EDITOR, methods=("POST",), ok=(302,)),
    "render_delete": Expect(EDITOR, methods=("GET", "POST"), ok=(200, 302)),
    "render_comment": Expect(VIEWER, methods=("POST",), ok=(302,), data={"body": "Lovely light."}),
    "project_activity": Expect(VIEWER),
    # signed by the provider, not by a session: an unsigned POST is refused before anything else
    "webhook": Expect(PUBLIC, methods=("POST",), ok=(400,)),
    # my usage (quotas)
    "usage": Expect(LOGIN),
    # the staff app's pages (dashboard, provider keys, audit log): non-staff get 403
    "staff_dashboard": Expect(STAFF),
    "staff_keys": Expect(STAFF),
    "staff_key_add": Expect(STAFF, methods=("GET", "POST"), data=lambda world: _key_form("Matrix added key")),
    "staff_key": Expect(STAFF),
    "staff_key_edit": Expect(STAFF, methods=("GET", "POST"), data=lambda world: _key_form("Matrix edited key")),
    "staff_key_enable": Expect(STAFF, methods=("POST",)),
    "staff_key_disable": Expect(STAFF, methods=("POST",)),
    "staff_key_drain": Expect(STAFF, methods=("POST",)),
    "staff_key_top_up": Expect(STAFF, methods=("POST",)),
    "staff_key_test": Expect(STAFF, methods=("POST",)),
    "staff_key_detect": Expect(STAFF, methods=("GET", "POST")),
    "staff_key_detect_apply": Expect(STAFF, methods=("POST",)),
    "staff_audit": Expect(STAFF),
    # unknown outcomes: a POST for a render that no longer waits (or a bad id) redirects with a message
    "staff_unknown_outcomes": Expect(STAFF),
    "staff_render_adopt": Expect(STAFF, methods=("POST",), data={"video_id": "video_matrix"}),
    "staff_billing_incident_resolve": Expect(STAFF, methods=("POST",), data={"billed": "no", "note": "matrix"}),
}


def _key_form(name):
    return {"name": name, "provider": "sorasim", "base_url": "http://127.0.0.1:9/v1", "secret": "sk-matrix-form-0001",
            "rpm_limit": 25, "max_concurrent": 10}


# --- URL kwargs ---------------------------------------------------------------------------------------

PARAMS = {}


def param(name):
    """Register the factory that fills the URL kwarg `name` with a real object of world.project."""
    def register(factory):
        PARAMS[name] = factory
        return factory
    return register


@param("project_id")
def _project_id(world):
    return world.project.pk


@param("membership_id")
def _membership_id(world):
    # a member of its own, so removing or demoting it leaves the actors as they are
    from projects.models import Membership, Role

    return Membership.objects.create(project=world.project, user=world.make_user("member"), role=Role.EDITOR).pk


@param("invitation_id")
def _invitation_id(world):
    return world.invitation()[0].pk


@param("token")
def _token(world):
    return world.invitation()[1]


@param("render_id")
def _render_id(world):
    from renders.models import Render

    render = Render.objects.create(project=world.project, author=world.editor, prompt="A lighthouse at dawn",
                                   model="sora-2", size="1280x720", seconds=4, status="completed")
    render.thumbnail.save("thumbnail.webp", ContentFile(b"RIFF\x00\x00\x00\x00WEBPVP8 "), save=True)
    return render.pk


@param("variant")
def _variant(world):
    return "thumbnail"


@param("key_uuid")
def _key_uuid(world):
    from providers.models import ApiKey

    key = ApiKey(name="Matrix key", base_url="http://127.0.0.1:9/v1")
    key.secret = "sk-matrix-0000"
    key.webhook_secret = "whsec_" + "MDEyMzQ1Njc4OWFiY2RlZg=="
    key.save()
    return key.webhook_uuid


@param("key_id")
def _key_id(world):
    from providers.models import ApiKey

    key = ApiKey(name="Matrix staff key", base_url="http://127.0.0.1:9/v1")
    key.secret = "sk-matrix-staff-0000"
    key.save()
    return key.pk


@param("detection_id")
def _detection_id(world):
    # a finished detection of the key the URL names (its key_id comes first in the pattern, so it exists)
    from providers.models import ApiKey, KeyDetection

    key = ApiKey.objects.filter(name="Matrix staff key").latest("pk")
    return KeyDetection.objects.create(key=key, outcome=KeyDetection.Outcome.DONE, proposal={"preset": "azure"}).pk


@param("incident_id")
def _incident_id(world):
    # a failed render of world.project whose provider may have billed it
    from providers.models import ApiKey
    from renders.models import BillingIncident, Render

    key = ApiKey(name="Matrix incident key", base_url="http://127.0.0.1:9/v1")
    key.secret = "sk-matrix-incident-0000"
    key.save()
    render = Render.objects.create(project=world.project, author=world.editor, prompt="A lost create", model="sora-2",
                                   size="1280x720", seconds=4, status="failed", error_code="outcome_unknown",
                                   api_key=key)
    return BillingIncident.objects.create(render=render, api_key=key, amount_cents=40).pk
