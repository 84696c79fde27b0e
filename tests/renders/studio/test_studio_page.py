"""GET /projects/<id>/: the history (newest first, filters, search, keyset pages), the form for editors only."""

import pytest
from django.core.files.base import ContentFile

from projects.models import Project
from renders.models import Render
from renders.states import Status
from tests.renders.studio.conftest import make_renders, star

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]


def ids_on(response):
    return [r.pk for r in response.context["listing"].renders]


def test_it_lists_the_renders_newest_first_with_card_facts(client, alice, bob, project):
    old, new = make_renders(project, [alice, bob], 2, statuses=(Status.COMPLETED, Status.IN_PROGRESS))
    old.thumbnail.save("thumbnail.webp", ContentFile(b"RIFF0000WEBP"), save=True)
    client.force_login(alice)
    response = client.get(f"/projects/{project.pk}/")
    assert response.status_code == 200
    assert ids_on(response) == [new.pk, old.pk]
    html = response.content.decode()
    assert f'src="/projects/{project.pk}/renders/{old.pk}/assets/thumbnail"' in html
    assert f'href="/projects/{project.pk}/renders/{new.pk}/"' in html
    assert 'class="badge badge-in_progress">In progress<' in html
    assert '<progress max="100" value="40"' in html and html.count("<progress") == 1
    assert "sora-2" in html and "720x1280" in html and ">4 s<" in html and ">bob<" in html
    assert "$0.40 est." in html  # in flight: the reserved estimate


def tag_of(html, element_id):
    """The opening tag of the element with this id."""
    at = html.index(f'id="{element_id}"')
    return html[html.rindex("<", 0, at):html.index(">", at)]


def test_it_polls_once_for_the_whole_page_only_while_something_is_in_flight(client, alice, project):
    make_renders(project, [alice], 3, statuses=(Status.IN_PROGRESS,))
    client.force_login(alice)
    html = client.get(f"/projects/{project.pk}/").content.decode()
    # two pollers on the page: the one in-flight poll for all its cards, and the every-page poll (base.html)
    assert html.count("data-poll=") == 2 and 'data-poll="2"' in tag_of(html, "inflight-poll")
    assert html.count('class="inflight-id"') == 3
    Render.objects.update(status=Status.COMPLETED)
    html = client.get(f"/projects/{project.pk}/").content.decode()
    assert "data-poll" not in tag_of(html, "inflight-poll") and html.count("data-poll=") == 1


def test_it_filters_by_status_model_author_favourites_and_search(client, alice, bob, project):
    a, b, c, d = make_renders(project, [alice, bob], 4, statuses=(Status.COMPLETED, Status.FAILED, Status.QUEUED))
    Render.objects.filter(pk=c.pk).update(model="sora-2-pro", prompt="A lighthouse at night")
    star(alice, [b, d])
    star(bob, [a])
    client.force_login(alice)
    url = f"/projects/{project.pk}/"
    assert ids_on(client.get(url, {"status": "failed"})) == [b.pk]
    assert ids_on(client.get(url, {"status": "in_flight"})) == [c.pk]
    assert ids_on(client.get(url, {"model": "sora-2-pro"})) == [c.pk]
    assert ids_on(client.get(url, {"author": bob.pk})) == [d.pk, b.pk]
    assert ids_on(client.get(url, {"favourites": "1"})) == [d.pk, b.pk]  # alice's stars, not bob's
    assert ids_on(client.get(url, {"q": "LIGHTHOUSE"})) == [c.pk]
    assert ids_on(client.get(url, {"q": "fox", "author": alice.pk, "status": "completed"})) == [a.pk]
    # values that do not parse are ignored, not an error
    assert len(ids_on(client.get(url, {"status": "nonsense", "author": "x", "before": "-3"}))) == 4


def test_it_pages_by_keyset_older_and_newer(client, alice, project):
    renders = make_renders(project, [alice], 60)
    newest_first = [r.pk for r in reversed(renders)]
    client.force_login(alice)
    first = client.get(f"/projects/{project.pk}/")
    listing = first.context["listing"]
    assert ids_on(first) == newest_first[:24] and listing.newer is None and listing.older == newest_first[23]
    second = client.get(f"/projects/{project.pk}/", {"before": listing.older})
    assert ids_on(second) == newest_first[24:48]
    third = client.get(f"/projects/{project.pk}/", {"before": second.context["listing"].older})
    assert ids_on(third) == newest_first[48:] and third.context["listing"].older is None
    back = client.get(f"/projects/{project.pk}/", {"after": third.context["listing"].newer})
    assert ids_on(back) == newest_first[24:48]
    assert f'href="?before={listing.older}"' in first.content.decode()


def test_pages_keep_the_filters(client, alice, bob, project):
    make_renders(project, [alice, bob], 60)
    client.force_login(alice)
    response = client.get(f"/projects/{project.pk}/", {"author": bob.pk})
    assert f'href="?author={bob.pk}&amp;before=' in response.content.decode()


def test_htmx_filtering_answers_the_history_partial_only(client, alice, project, htmx_headers):
    make_renders(project, [alice], 2)
    client.force_login(alice)
    response = client.get(f"/projects/{project.pk}/", {"status": "completed"}, **htmx_headers(target="history"))
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="history"')
    assert "<html" not in html and 'id="submit-form"' not in html


def test_a_viewer_sees_the_history_but_no_form(client, vera, alice, project):
    make_renders(project, [alice], 1)
    client.force_login(vera)
    response = client.get(f"/projects/{project.pk}/")
    assert response.status_code == 200 and len(ids_on(response)) == 1
    assert b'id="submit-form"' not in response.content


def test_editors_get_the_form_with_the_estimate(client, bob, project):
    client.force_login(bob)
    html = client.get(f"/projects/{project.pk}/").content.decode()
    assert 'id="submit-form"' in html and 'enctype="multipart/form-data"' in html
    assert "<strong>$0.40</strong>" in html  # sora-2, 4 s at $0.10
    for tip in ("Shot", "Subject", "Action", "Setting", "Lighting"):
        assert f"<strong>{tip}</strong>" in html


def test_an_archived_project_shows_no_form(client, alice, project):
    from django.utils import timezone

    project.archived_at = timezone.now()
    project.save()
    client.force_login(alice)
    html = client.get(f"/projects/{project.pk}/").content.decode()
    assert 'id="submit-form"' not in html and "archived" in html


def test_outsiders_get_404_and_deleted_renders_are_not_listed(client, charlie, alice, project):
    (gone,) = make_renders(project, [alice], 1)
    from django.utils import timezone

    Render.objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    client.force_login(alice)
    assert ids_on(client.get(f"/projects/{project.pk}/")) == []
    client.force_login(charlie)
    assert client.get(f"/projects/{project.pk}/").status_code == 404


def test_the_every_page_poll_starts_from_the_newest_render_and_the_projects_marker(client, alice, project):
    renders = make_renders(project, [alice], 3)
    Project.objects.filter(pk=project.pk).update(revision=7)
    client.force_login(alice)
    html = client.get(f"/projects/{project.pk}/").content.decode()
    assert f'hx-get="/notices/?after={renders[-1].pk}&amp;revision=7"' in html
    html = client.get("/settings/").content.decode()
    assert 'hx-get="/notices/"' in html and 'data-poll="2"' in html  # every page polls, without a cursor
