"""Every page of the journey is clean, on a desktop (1440x900) and on a phone (390x844, then narrowed to 320 px): no
console error, no uncaught exception, no CSP violation, and never wider than the viewport
(document.documentElement.scrollWidth <= clientWidth), with every details part open.

The world is the default configuration as `make run` seeds it: a key with webhooks on (sorasim posts them to the
live server), a real worker, a render completed through the whole pipeline (a real MP4, thumbnail and spritesheet
from sorasim, and its real timeline), a remix of it, two variations, a render the provider refused, comments, an
invitation, a member and keys with long names, URLs and errors, and audit entries; long words have to wrap
everywhere.
"""

import pytest
from django.utils import timezone

from projects import services
from projects.models import Role
from providers.models import ApiKey, AuditEntry, KeyState
from renders import actions
from renders.models import BillingIncident, Comment, Render
from renders.states import FINAL, Status
from tests.fixtures.browser import screenshot
from tests.fixtures.sorasim import MODERATE_WORD, make_sim_key
from tests.fixtures.waits import wait_for

LONG_DESCRIPTION = "A description long enough to wrap over several lines on a phone screen."
pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True),
              pytest.mark.project(name="A project with a rather long name for a small screen",
                                  description=LONG_DESCRIPTION, members={"bob": "editor"})]

LONG_URL = "https://api.apifree.example.com/v1/a/rather/long/path/for/a/regional/endpoint/of/this/provider"
LONG_TOKEN = "https://cdn.example.org/reference/boards/lighthouse-storm-v3-final-final-approved-by-everyone.png"
VIEWPORTS = {
    "desktop": {"width": 1440, "height": 900},
    "phone": {"width": 390, "height": 844},
}
NARROWER = {"phone": [320]}  # widths a page is also laid out at, after its check at the viewport's own

# Records what the page reports as it happens (Playwright's console and pageerror events see console errors and
# exceptions; a CSP violation is also a securitypolicyviolation event in the page, recorded here by a script
# Playwright adds to every document, which the page's CSP does not apply to).
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__cspViolations.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""
# The elements sticking out of the viewport, for the failure message: the outermost ones that no scrolling or
# clipping box of theirs holds in.
OVERFLOW = """() => {
  const root = document.documentElement, width = root.clientWidth;
  if (root.scrollWidth <= width) return null;
  const held = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== "visible") return true;
    }
    return false;
  };
  const wide = [...document.body.querySelectorAll("*")].filter(
    (el) => el.getBoundingClientRect().right > width + 0.5 && !held(el));
  const outer = wide.filter((el) => !wide.includes(el.parentElement)).slice(0, 5);
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (typeof el.className === "string" && el.className ? "." + el.className.trim().replace(/\\s+/g, ".") : "");
  return {scrollWidth: root.scrollWidth, clientWidth: width,
          culprits: outer.map((el) => `${name(el.parentElement)} > ${name(el)}`
                                      + ` right=${Math.round(el.getBoundingClientRect().right)}`)};
}"""


def _wait_final(render, worker, what):
    def final():
        render.refresh_from_db()
        return render.status in FINAL
    wait_for(final, timeout=90, what=what, worker=worker)
    return render


@pytest.fixture
def world(alice, bob, staff, project, sorasim_shared, live_server, start_worker, django_user_model):
    """The journey's objects, made the way people make them (the renders through the real pipeline)."""
    key = make_sim_key(sorasim_shared, live_server, name="sorasim (local)", can_remix_endpoint=True)
    assert key.has_webhooks
    worker = start_worker(SITE_URL=live_server.url, RENDER_ADOPT_WAIT_SECONDS="3600")
    parent = actions.submit(alice, project, model="sora-2", size="1280x720", seconds=4,
                            prompt="A wide shot of a red-and-white lighthouse at dawn, waves rolling in, gulls in the "
                                   f"distance; matching the board at {LONG_TOKEN}")
    refused = actions.submit(bob, project, model="sora-2", size="720x1280", seconds=4,
                             prompt=f"A {MODERATE_WORD} scene on the pier")
    variations = actions.submit_variations(alice, project, 2, model="sora-2", size="1280x720", seconds=4,
                                           prompt="Two takes of the harbour at noon, boats coming in")
    _wait_final(parent, worker, "the render to complete")
    assert parent.status == Status.COMPLETED, [e.message for e in parent.events.all()]
    remix = actions.submit(bob, project, prompt="The same lighthouse at night, a storm coming in from the sea",
                           remix_of=parent)
    _wait_final(remix, worker, "the remix to complete")
    _wait_final(refused, worker, "the refused render to fail")
    for variation in variations:
        _wait_final(variation, worker, "the variations to complete")
    assert (remix.status, refused.status) == (Status.COMPLETED, Status.FAILED)
    for author, body in ((bob, f"The light at 0:02 is lovely. The board is at {LONG_TOKEN}"),
                         (alice, "Agreed; the remix keeps it.")):
        Comment.post(parent, author, body)

    # people and invitations with long names and addresses
    long_name = django_user_model.objects.create_user("someone_with_a_very_long_username",
                                                      "someone.with.a.very.long.address@example.org", "password")
    services.add_member(project, long_name.username, Role.VIEWER)
    services.invite(project, "a.very.long.email.address.for.testing@example.org", Role.VIEWER, alice)
    _, invitation_url = services.invite(project, "new@example.org", Role.EDITOR, alice)

    # keys with long names, URLs and errors, and what the audit log says of them (made after the renders: they
    # are of the default pool, and their URLs lead nowhere)
    keys = []
    for name, state, error in [
        ("Production Apifree primary key for the EU region", KeyState.ACTIVE, ""),
        ("Backup", KeyState.OUT_OF_CREDIT,
         "402 Payment Required: insufficient_quota, top up at https://billing.example.org/account/credits/topup"
         "?reference=abcdefghijklmnopqrstuvwxyz0123456789"),
    ]:
        long_key = ApiKey(name=name, provider="apifree", base_url=LONG_URL, state=state, last_error=error,
                          last_error_at=timezone.now() if error else None)
        long_key.secret = "sk-layout-secret-1234"
        long_key.save()
        keys.append(long_key)
        AuditEntry.objects.create(
            actor_name="alice.with.a.rather.long.username@example-organisation.com", action="key.edited",
            target_type="key", target_id=long_key.pk, target=long_key.name,
            detail=f"base_url: https://old.example.com/v1/with/a/long/path → {LONG_URL}; rpm_limit 25 → 60")
    # a create that was never answered, waiting for its job id (its key has no list: the worker leaves it to staff),
    # and one that failed so: an incident to reconcile
    production, backup = keys
    ApiKey.objects.filter(pk=production.pk).update(has_list_endpoint=False)
    for status, on_key in ((Status.SENDING, production), (Status.FAILED, backup)):
        lost = Render.objects.create(project=project, author=alice, prompt=parent.prompt, model="sora-2",
                                     size="1280x720", seconds=4, status=status, api_key=on_key,
                                     create_sent_at=timezone.now(), error_code="outcome_unknown")
    BillingIncident.objects.create(render=lost, api_key=backup, amount_cents=40)
    return {"project": project, "parent": parent, "remix": remix, "refused": refused, "keys": [key, *keys],
            "variation": variations[0],
            "invitation": "/invitations/" + invitation_url.rstrip("/").rsplit("/", 1)[1] + "/"}


def journey(world):
    """(name, who, path, status): every page a person meets, as who sees it."""
    p, parent, remix, refused = world["project"].pk, world["parent"], world["remix"], world["refused"]
    render = f"/projects/{p}/renders/"
    key, long_key, backup = world["keys"]
    return [
        ("sign-in", None, "/accounts/login/", 200),
        ("password reset", None, "/accounts/password_reset/", 200),
        ("invitation", None, world["invitation"], 200),
        ("projects", "alice", "/", 200),
        ("new project", "alice", "/projects/new/", 200),
        ("studio", "alice", f"/projects/{p}/", 200),
        ("render", "alice", f"{render}{parent.pk}/", 200),
        ("remix", "bob", f"{render}{remix.pk}/", 200),
        ("remix refused", "bob", f"{render}{parent.pk}/", 400),  # the remix form sent empty: the page, with why
        ("compare", "bob", f"{render}{remix.pk}/compare/", 200),
        ("variations", "bob", f"{render}{world['variation'].pk}/variations/", 200),
        ("failed render", "bob", f"{render}{refused.pk}/", 200),
        ("delete", "bob", f"{render}{refused.pk}/delete/", 200),
        ("activity", "alice", f"/projects/{p}/activity/", 200),
        ("members", "alice", f"/projects/{p}/members/", 200),
        ("project settings", "alice", f"/projects/{p}/settings/", 200),
        ("forbidden", "bob", f"/projects/{p}/settings/", 403),
        ("not found", "bob", "/projects/999999/members/", 404),
        ("settings", "alice", "/settings/", 200),
        ("password change", "alice", "/accounts/password_change/", 200),
        ("usage", "alice", "/usage/", 200),
        ("staff dashboard", "sam", "/staff/", 200),
        ("staff keys", "sam", "/staff/keys/", 200),
        ("staff key", "sam", f"/staff/keys/{key.pk}/", 200),
        ("staff key with long names", "sam", f"/staff/keys/{long_key.pk}/", 200),
        ("staff key out of credit", "sam", f"/staff/keys/{backup.pk}/", 200),
        ("staff key add", "sam", "/staff/keys/new/", 200),
        ("staff key edit", "sam", f"/staff/keys/{long_key.pk}/edit/", 200),
        ("staff key detect", "sam", f"/staff/keys/{long_key.pk}/detect/", 200),
        ("staff audit log", "sam", "/staff/audit/", 200),
        ("staff unknown outcomes", "sam", "/staff/unknown-outcomes/", 200),
        ("admin", "sam", "/admin/", 200),
    ]


def _the_pages_own_status(message, expected):
    """Chromium's note that the page itself answered 400, 403 or 404, as the journey expects of that page."""
    return expected >= 400 and message.text.startswith(
        f"Failed to load resource: the server responded with a status of {expected} ")


@pytest.mark.slow(150)
@pytest.mark.parametrize("size", VIEWPORTS)
def test_every_page_is_clean(context_factory, world, alice, bob, staff, size):
    viewport = VIEWPORTS[size]
    users = {"alice": alice, "bob": bob, "sam": staff, None: None}
    # on: the page being checked and the status it answers, to name it beside what it reports
    pages, problems, on = {}, [], ["setup", 200]
    for who, user in users.items():
        context = context_factory(user, viewport=viewport)
        context.add_init_script(WATCH_CSP)
        page = context.new_page()
        page.on("console", lambda msg: problems.append(f"{on[0]}: console {msg.text} {msg.location.get('url')}")
                if msg.type == "error" and not _the_pages_own_status(msg, on[1]) else None)
        page.on("pageerror", lambda exc: problems.append(f"{on[0]}: uncaught {exc}"))
        pages[who] = page
    for name, who, path, status in journey(world):
        on[:] = [f"{name} ({path})", status]
        page = pages[who]
        response = page.goto(path)
        if name == "remix refused":
            with page.expect_navigation() as sent:
                page.get_by_role("button", name="Remix", exact=True).click()
            response = sent.value
        assert response.status == status, f"{name}: {path} answered {response.status}"
        if name == "invitation":
            assert page.get_by_role("heading", name="Create your account").is_visible()
        page.wait_for_load_state("networkidle")
        # what a details part hides (a timeline's ids and request ids) must fit too
        page.evaluate("document.querySelectorAll('details').forEach((part) => { part.open = true; })")
        problems.extend(f"{on[0]}: CSP {violation}" for violation in page.evaluate("window.__cspViolations"))
        if overflow := page.evaluate(OVERFLOW):
            problems.append(f"{on[0]}: wider than the viewport {overflow}")
        screenshot(page, f"{name.replace(' ', '-')}-{viewport['width']}x{viewport['height']}")
        for width in NARROWER.get(size, []):
            page.set_viewport_size({"width": width, "height": viewport["height"]})
            if overflow := page.evaluate(OVERFLOW):
                problems.append(f"{on[0]}: wider than a {width} px viewport {overflow}")
            page.set_viewport_size(viewport)
    assert not problems, "\n".join(problems)
