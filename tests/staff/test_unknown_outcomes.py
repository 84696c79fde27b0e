"""The staff page of unknown outcomes: adopt the job of a render whose create's answer was lost on a key without a
list endpoint (a real sorasim speaking new-api, over HTTP), refuse what is not the render's job, and reconcile the
billing incident of a render that failed as outcome unknown."""

import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

from providers.models import AuditEntry
from quotas.models import Reservation
from renders import pipeline, reconcile, timeline
from renders.models import BillingIncident, EventKind, Render
from renders.states import Status
from tests.fixtures.sorasim import API_KEY
from tests.fixtures.waits import step_until
from tests.fixtures.world import submit

pytestmark = pytest.mark.django_db

PAGE = reverse("staff_unknown_outcomes")


def lost_create(sim, user, project, prompt=None):
    """A render whose create reached the provider (which made the job) but whose answer was dropped."""
    sim.control.patch_faults(drop_create_response_rate=1.0)
    render = submit(user, project, prompt=prompt or f"a lighthouse at dawn {uuid.uuid4().hex[:8]}")
    pipeline.send_create(render.pk)
    sim.control.patch_faults(drop_create_response_rate=0.0)
    render.refresh_from_db()
    assert render.outcome_unknown and render.heartbeat_at is None
    return render


def job_of(sim, render):
    [job] = [v for v in sim.control.videos(API_KEY) if v["prompt"] == render.prompt]
    return job["id"]


def adopt(client, render, video_id):
    return client.post(reverse("staff_render_adopt", kwargs={"render_id": render.pk}), {"video_id": video_id},
                       follow=True)


def said(response):
    return [str(m) for m in response.context["messages"]]


def snapshot(render):
    render = Render.objects.get(pk=render.pk)
    return (render.status, render.provider_video_id, render.error_code, render.updated_at, render.events.count(),
            AuditEntry.objects.count())


def test_staff_adopt_a_lost_job_by_its_id_and_the_render_completes(staff_client, alice, project, sim, relay,
                                                                       settings):
    settings.RENDER_RECONCILE_AFTER_SECONDS = 0
    render = lost_create(sim, alice, project)
    note = render.events.get(kind=EventKind.ERROR)
    assert timeline.sentence(note) == ("The provider did not answer the request; waiting for the job's id from a "
                                       "webhook or from staff (it is never sent twice).")
    reconcile.settle_unknown_outcomes()  # no list to look in, and the wait for staff is long: it waits
    render.refresh_from_db()
    assert render.outcome_unknown
    page = staff_client.get(PAGE)
    assert f'data-render="{render.pk}"' in page.content.decode() and b"Adopt job id" in page.content

    video_id = job_of(sim, render)
    assert video_id.startswith("task_")  # the relay's own ids
    response = adopt(staff_client, render, f"  {video_id} ")
    assert said(response) == [f"Render #{render.pk} adopted the job {video_id}; it is tracked from here on."]
    render.refresh_from_db()
    assert render.provider_video_id == video_id and render.status in (Status.QUEUED, Status.IN_PROGRESS)
    adopted = render.events.get(kind=EventKind.ADOPTED)
    assert (adopted.source, adopted.message.startswith(f"Staff adopted the job {video_id}: sam entered")) == (
        "staff", True)
    entry = AuditEntry.objects.get(action="render.adopted")
    assert (entry.actor_name, entry.target_type, entry.target_id) == ("sam", "render", render.pk)

    step_until(render, {Status.DOWNLOADING}, pipeline.poll)
    pipeline.download(render.pk)
    render.refresh_from_db()
    assert render.status == Status.COMPLETED and render.video
    assert Reservation.objects.get(render=render).state == Reservation.State.SETTLED
    assert not BillingIncident.objects.exists()
    counters = sim.control.counters(API_KEY)
    assert (counters["creates_attempted"], counters["creates_accepted"]) == (1, 1)  # never sent twice
    # adopted: it no longer waits, and a second adoption changes nothing
    before = snapshot(render)
    again = adopt(staff_client, render, video_id)
    assert said(again) == [f"Render #{render.pk}: Not waiting for a job id: it has the job {video_id}."]
    assert snapshot(render) == before


def test_what_is_not_the_renders_job_is_refused_and_changes_nothing(staff_client, alice, project, sim, relay):
    render = lost_create(sim, alice, project)
    other = submit(alice, project, prompt="another shot entirely")
    pipeline.send_create(other.pk)
    other.refresh_from_db()
    with pipeline.provider_client(relay) as client:  # a job of the key that no render sent
        stray = client.create(prompt="a stray job", model="sora-2", size="1280x720", seconds="8")
    before = snapshot(render)

    cases = [
        ("task_doesnotexist", f"The provider has no job task_doesnotexist for the key {relay.name}."),
        (other.provider_video_id, f"The job {other.provider_video_id} already belongs to render #{other.pk}."),
        (stray.id, f"The job {stray.id} is not this render's: size 1280x720 (the render's is 720x1280); 8 s (the "
                   "render's is 4 s); another prompt."),
        ("", "enter the provider's job id (at most 255 characters)."),
    ]
    for video_id, message in cases:
        response = adopt(staff_client, render, video_id)
        assert response.status_code == 200
        assert said(response) == [f"Render #{render.pk}: {message}"]
        assert snapshot(render) == before
    assert render.events.filter(kind=EventKind.ADOPTED).count() == 0


def test_a_render_that_failed_meanwhile_is_not_adopted(staff_client, alice, project, sim, relay, settings):
    render = lost_create(sim, alice, project)
    video_id = job_of(sim, render)
    settings.RENDER_RECONCILE_AFTER_SECONDS = settings.RENDER_ADOPT_WAIT_SECONDS = 0
    reconcile.settle_unknown_outcomes()  # the wait for staff ran out
    render.refresh_from_db()
    assert render.status == Status.FAILED and "may have billed" in render.error_message
    before = snapshot(render)
    response = adopt(staff_client, render, video_id)
    assert said(response) == [f"Render #{render.pk}: Not waiting for a job id: it is failed."]
    assert snapshot(render) == before
    # the failed render's incident is on the page instead, to reconcile
    incident = BillingIncident.objects.get(render=render)
    page = staff_client.get(PAGE).content.decode()
    assert f'data-incident="{incident.pk}"' in page and f"${incident.amount_usd}" in page


@pytest.fixture
def incident(alice, project, make_render, key):
    render = make_render(Status.FAILED, api_key=key, error_code="outcome_unknown",
                         cost_estimate_usd=Decimal("0.40"))
    return BillingIncident.open_for(render)


def test_staff_resolve_an_incident_once_with_what_they_found(staff_client, incident, staff):
    url = reverse("staff_billing_incident_resolve", kwargs={"incident_id": incident.pk})
    response = staff_client.post(url, {"billed": "yes", "note": "invoice 2026-12, line 14"}, follow=True)
    assert said(response) == [f"Reconciled render #{incident.render_id}: billed."]
    incident.refresh_from_db()
    assert (incident.billed, incident.resolution, incident.resolved_by) == (True, "invoice 2026-12, line 14", staff)
    assert incident.resolved_at is not None
    entry = AuditEntry.objects.get(action="render.billing_reconciled")
    assert entry.detail == "billed ($0.40 on key “main”): invoice 2026-12, line 14"

    again = staff_client.post(url, {"billed": "no"}, follow=True)
    assert said(again) == [f"The incident of render #{incident.render_id} was resolved already."]
    incident.refresh_from_db()
    assert incident.billed is True and AuditEntry.objects.filter(action="render.billing_reconciled").count() == 1


def test_resolving_needs_the_finding(staff_client, incident):
    url = reverse("staff_billing_incident_resolve", kwargs={"incident_id": incident.pk})
    response = staff_client.post(url, {"note": "asked support"}, follow=True)
    assert said(response) == [f"Render #{incident.render_id}: say whether the provider billed it."]
    incident.refresh_from_db()
    assert incident.is_open


def test_the_dashboard_and_the_key_count_what_may_be_billed(staff_client, incident, make_render, key):
    make_render(Status.SENDING, api_key=key, create_sent_at=incident.opened_at)  # waiting for its job id
    dashboard = staff_client.get(reverse("staff_dashboard")).content.decode()
    assert '<span class="stat-value" data-count="waiting">1</span>' in dashboard
    assert '<span class="stat-value" data-count="incidents">1</span>' in dashboard
    assert 'data-possibly-billed="0.40"' in dashboard  # the key's row, next to its settled spend
    assert reverse("staff_unknown_outcomes") in dashboard
    detail = staff_client.get(reverse("staff_key", kwargs={"key_id": key.pk})).content.decode()
    assert '<dd data-spend="possibly-billed">$0.40 <a' in detail
    incident.resolve(None, billed=False)
    dashboard = staff_client.get(reverse("staff_dashboard")).content.decode()
    assert '<span class="stat-value" data-count="incidents">0</span>' in dashboard
    assert 'data-possibly-billed="0.40"' not in dashboard


@pytest.mark.parametrize("method,url", [
    ("get", PAGE),
    ("post", reverse("staff_render_adopt", kwargs={"render_id": 1})),
    ("post", reverse("staff_billing_incident_resolve", kwargs={"incident_id": 1})),
])
def test_only_staff_may_adopt_or_reconcile(client, alice, method, url):
    client.force_login(alice)
    assert getattr(client, method)(url).status_code == 403
    client.logout()
    assert getattr(client, method)(url).status_code == 302


def test_the_admin_shows_incidents_and_changes_none(client, django_user_model, incident):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.org", "password"))
    assert client.get(reverse("admin:renders_billingincident_changelist")).status_code == 200
    change = reverse("admin:renders_billingincident_change", args=[incident.pk])
    assert client.get(change).status_code == 200
    assert client.post(change, {"billed": "on", "resolution": "edited"}).status_code == 403
    assert client.get(reverse("admin:renders_billingincident_add")).status_code == 403
    incident.refresh_from_db()
    assert incident.is_open and incident.resolution == ""
