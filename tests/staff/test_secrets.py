"""The secrets proof: a distinctive API key and webhook secret are entered through the add-key page; then every URL
of the app is fetched as staff and every key action runs (edit, test, drain, enable, disable, a forced 401 and a
forced 500 from sorasim, out of credit from a real create and the top-up), with every logger at DEBUG, SQL
included. The secrets appear in no response (body, headers, cookies), no log record, no email, and no text column
of any table (raw SQL over information_schema).

Tasks run eagerly in this process, so their logs are captured too; the same code runs in the worker.
"""

import base64
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse

from projects.models import Membership, Project, Role
from providers.models import ApiKey, KeyState, KeyTest
from renders import actions, pipeline
from renders.models import Render
from renders.states import Status
from tests.soraweb.test_permission_matrix import ROUTES, World
from tests.soraweb.url_expectations import PARAMS, URLS
from tests.staff.logcapture import all_logs

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_tasks")]

SECRET = "sk-CANARY-5f3a9c2e71d84b06e1a4"
WEBHOOK_KEY_BYTES = b"canary-webhook-signing-key-73e1"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(WEBHOOK_KEY_BYTES).decode()
NEEDLES = [SECRET, WEBHOOK_SECRET, WEBHOOK_SECRET.removeprefix("whsec_"), WEBHOOK_KEY_BYTES.decode()]


class Recorder:
    """A staff client that keeps every response it gets (redirects are followed by hand, so each hop is kept)."""

    def __init__(self, user):
        self.client = Client()
        self.client.force_login(user)
        self.responses = []

    def _keep(self, response, label):
        body = b"".join(response.streaming_content) if response.streaming else response.content
        text = body.decode(errors="replace") + repr(response.headers.items()) + response.cookies.output()
        self.responses.append((label, text))
        return response

    def get(self, url, **kwargs):
        return self._keep(self.client.get(url, **kwargs), f"GET {url}")

    def post(self, url, data=None, **kwargs):
        response = self._keep(self.client.post(url, data or {}, **kwargs), f"POST {url}")
        if response.status_code == 302:
            self.get(response["Location"])  # the page that shows the outcome (and the flash message)
        return response

    def leaks(self):
        found = []
        for label, text in self.responses:
            found += [f"{label}: {needle}" for needle in NEEDLES if needle in text]
        return found


def fetch_every_url(recorder, world):
    """GET every URL pattern of the app that answers GET (with real objects), and the key pages of the admin."""
    fetched = 0
    for route in ROUTES:
        expect = URLS.get(route.name)
        if expect is None or "GET" not in expect.methods:  # (the permission matrix fails for a missing one)
            continue
        url = reverse(route.name, kwargs={name: PARAMS[name](world) for name in route.kwargs})
        response = recorder.get(url)
        assert response.status_code in (200, 204, 301, 302, 503), f"GET {url}: {response.status_code}"
        fetched += 1
    for key in ApiKey.objects.all():
        recorder.get(reverse("staff_key", kwargs={"key_id": key.pk}))
        recorder.get(reverse("staff_key", kwargs={"key_id": key.pk}), headers={"HX-Request": "true",
                                                                               "HX-Target": "key-test"})
        recorder.get(reverse("admin:providers_apikey_change", args=[key.pk]))
    for name in ("admin:index", "admin:providers_apikey_changelist", "admin:providers_apikey_add"):
        recorder.get(reverse(name))
    return fetched


def text_columns():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND data_type IN ('text', 'character varying', 'character', 'json', 'jsonb') ORDER BY 1, 2")
        return cursor.fetchall()


def rows_containing(needle):
    """(table, column) pairs with a value containing `needle`, by raw SQL over every text column of every table."""
    found = []
    with connection.cursor() as cursor:
        for table, column in text_columns():
            cursor.execute(f'SELECT count(*) FROM "{table}" WHERE "{column}"::text LIKE %s', [f"%{needle}%"])
            if cursor.fetchone()[0]:
                found.append((table, column))
    return found


@pytest.fixture
def world(django_user_model):
    User = get_user_model()
    staff = User.objects.create_superuser("root", "root@example.org", "password")  # staff, and the admin too
    users = {"staff": staff, "owner": staff}
    for name in ("editor", "viewer", "outsider"):
        users[name] = User.objects.create_user(name, f"{name}@example.org", "password")
    project = Project.objects.create(name="Canary project", created_by=staff)
    for role, user in ((Role.OWNER, staff), (Role.EDITOR, users["editor"]), (Role.VIEWER, users["viewer"])):
        Membership.objects.create(project=project, user=user, role=role)
    theirs = Project.objects.create(name="Elsewhere", created_by=users["outsider"])
    Membership.objects.create(project=theirs, user=users["outsider"], role=Role.OWNER)
    return World(project=project, outsider_project=theirs, users=users)


@pytest.mark.slow(20)
def test_the_secrets_appear_nowhere(world, sorasim_shared, settings):
    sim = sorasim_shared
    settings.QUOTA_DEFAULT_MONTHLY_SECONDS = 300
    settings.QUOTA_DEFAULT_MONTHLY_SPEND_USD = Decimal("50.00")
    settings.QUOTA_DEFAULT_CONCURRENT_RENDERS = 3
    staff = world.staff
    sim.control.set_key(SECRET, webhook_secret=WEBHOOK_SECRET)  # the provider's side, before any capture
    staff_client = Recorder(staff)

    with all_logs() as logs:
        fetched = fetch_every_url(staff_client, world)

        # add the key through the page, then look at it and edit it (a bad edit too: the form must not echo)
        staff_client.post(reverse("staff_key_add"), {
            "name": "Canary key", "provider": "sorasim", "base_url": sim.api_url, "secret": SECRET,
            "webhook_secret": WEBHOOK_SECRET, "rpm_limit": 0, "max_concurrent": 0, "can_remix_endpoint": "on",
            "has_webhooks": "on"})
        key = ApiKey.objects.get(name="Canary key")
        assert key.secret == SECRET and key.webhook_secret == WEBHOOK_SECRET
        edit = reverse("staff_key_edit", kwargs={"key_id": key.pk})
        staff_client.get(edit)
        bad = staff_client.post(edit, {"name": "Canary key", "provider": "sorasim", "base_url": "nope",
                                       "secret": SECRET, "webhook_secret": WEBHOOK_SECRET, "rpm_limit": 0,
                                       "max_concurrent": 0})
        assert bad.status_code == 400
        staff_client.post(edit, {"name": "Canary key", "provider": "sorasim", "base_url": sim.api_url,
                                 "secret": "", "webhook_secret": "", "rpm_limit": 0, "max_concurrent": 0,
                                 "can_remix_endpoint": "on", "has_webhooks": "on", "projects": [world.project.pk]})

        def action(name):
            return staff_client.post(reverse(name, kwargs={"key_id": key.pk}))

        def test_key():
            action("staff_key_test")
            staff_client.get(reverse("staff_key", kwargs={"key_id": key.pk}),
                             headers={"HX-Request": "true", "HX-Target": "key-test"})
            return KeyTest.objects.filter(key=key).first()

        assert test_key().outcome == KeyTest.Outcome.OK
        for name in ("staff_key_drain", "staff_key_enable", "staff_key_disable", "staff_key_enable"):
            action(name)

        with logs.paused():
            sim.control.set_key(SECRET, valid=False)
        assert test_key().outcome == KeyTest.Outcome.INVALID_KEY  # a forced 401
        staff_client.get(reverse("project_list"))  # the banner
        assert len(mail.outbox) == 1  # the incident's email
        action("staff_key_enable")

        with logs.paused():
            sim.control.set_key(SECRET, valid=True)
            sim.control.patch_faults(error_rate=1.0, error_statuses=[500])
        assert test_key().outcome == KeyTest.Outcome.UNAVAILABLE  # a forced 500

        # out of credit from a real create of the pipeline, then the top-up
        with logs.paused():
            sim.control.patch_faults(error_rate=0.0)
            sim.control.set_key(SECRET, credit_usd=0)
        render = actions.submit(staff, world.project, prompt="a canary in a coal mine", model="sora-2",
                                size="720x1280", seconds=4)
        key.refresh_from_db()
        render.refresh_from_db()
        assert key.state == KeyState.OUT_OF_CREDIT and render.status == Status.WAITING
        staff_client.get(reverse("staff_keys"))
        with logs.paused():
            sim.control.top_up(SECRET, 5)
        action("staff_key_top_up")
        pipeline.dispatch_due()  # the beat's dispatcher sends the woken render
        render.refresh_from_db()
        assert render.status in (Status.QUEUED, Status.IN_PROGRESS) and render.api_key_id == key.pk

        refetched = fetch_every_url(staff_client, world)

    # what was done really happened, and was really captured
    assert fetched == refetched and fetched >= 20
    assert sim.control.counters(SECRET)["creates_accepted"] == 1
    assert {"django.db.backends", "httpx", "httpcore.http11", "providers.keyadmin", "django.request"} <= logs.loggers
    assert logs.containing(key.secret_encrypted[:40])  # the SQL that stored the (encrypted) key is in the logs
    assert logs.containing("Incorrect API key provided")  # the 401's message, in the SQL that stored the result
    assert Render.objects.filter(api_key=key).exists()

    # ...and the secrets are nowhere
    assert staff_client.leaks() == []
    for needle in NEEDLES:
        assert logs.containing(needle) == [], f"{needle!r} in a log record"
        for message in mail.outbox:
            assert needle not in message.message().as_string()
    assert len(text_columns()) > 50
    assert ("providers_apikey", "name") in rows_containing("Canary key")  # the scan finds what is there
    for needle in NEEDLES:
        assert rows_containing(needle) == [], f"{needle!r} stored in plaintext"
