"""The render page in headless Chromium, against the live server, a real Celery worker and sorasim over HTTP:
sign in, open a completed render, play it, seek it (Range requests answered with 206), remix it and watch the
lineage grow by the page's one poll, comment; and an outsider gets 404 on the page and on every asset URL."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from renders import actions
from renders.models import Comment, Render
from renders.states import Status
from tests.fixtures.browser import login_with_form
from tests.fixtures.waits import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.project(members={"bob": "editor"}), pytest.mark.sim_key(can_remix_by_create=False)]


def wait_js(page, function, timeout=20, what=None):
    """Poll `function` (JavaScript, "() => ...") in the page until it returns something truthy, with the suite's
    wait helper: its deadline and a message that names what was awaited."""
    return wait_for(lambda: page.evaluate(function), timeout=timeout, every=0.1, what=what or function)


PLAYER = "document.getElementById('player')"


def detail(render):
    return reverse("render_detail", kwargs={"project_id": render.project_id, "render_id": render.pk})


def asset(render, variant):
    return reverse("render_asset", kwargs={"project_id": render.project_id, "render_id": render.pk,
                                           "variant": variant})


@pytest.mark.slow(50)
@pytest.mark.integration
def test_it_plays_seeks_remixes_and_comments(alice, project, sim_key, sorasim_shared, start_worker, context_factory):
    worker = start_worker()
    parent = actions.submit(alice, project, prompt="a lighthouse at dawn, waves below", model="sora-2",
                             size="1280x720", seconds=4)

    def completed(render):
        render.refresh_from_db()
        return render.status == Status.COMPLETED

    try:
        wait_for(lambda: completed(parent), what="the parent to complete")
    except AssertionError:
        raise AssertionError(worker.log()[-4000:]) from None

    page = context_factory().new_page()
    login_with_form(page, "alice", "password")  # a real sign-in, through the form
    video_answers, polls = [], []
    page.on("response", lambda r: video_answers.append(r) if r.url.endswith(asset(parent, "video")) else None)
    page.on("request", lambda r: polls.append(r) if "live=1" in r.url else None)
    page.goto(detail(parent))

    # it loads, and its duration is the render's
    wait_js(page, f"() => {PLAYER}.readyState >= 1")
    duration = page.evaluate("document.getElementById('player').duration")
    assert abs(duration - parent.seconds) < 0.3 and abs(duration - float(parent.delivered_seconds)) < 0.1
    assert page.get_attribute("#player", "poster").endswith(asset(parent, "thumbnail"))
    # it plays
    page.evaluate("() => { const p = document.getElementById('player'); p.muted = true; return p.play(); }")
    wait_js(page, f"() => {PLAYER}.currentTime > 0.5")
    page.evaluate("document.getElementById('player').pause()")

    # the player fetched it by ranges, and the asset view answered 206 with Content-Range
    ranged = [r for r in video_answers if r.status == 206]
    assert ranged, [(r.status, r.headers) for r in video_answers]
    size = parent.video.size
    assert ranged[0].headers["content-range"].startswith("bytes ") and ranged[0].headers["content-range"].endswith(
        f"/{size}")
    middle = page.request.get(asset(parent, "video"), headers={"Range": "bytes=1000-1999"})
    assert middle.status == 206 and middle.headers["content-range"] == f"bytes 1000-1999/{size}"
    with parent.video.open("rb") as f:
        assert middle.body() == f.read()[1000:2000]

    # seek with the scrubber: frame 8 of the 5 x 2 sheet stands for (7 + 0.5) / 10 of the video
    page.wait_for_selector(".scrubber.is-ready")
    assert page.get_attribute(".scrubber", "data-grid") == "5x2"
    # one seek bar: the video's own controls; the filmstrip under it jumps to frames, it is no second bar
    assert page.locator("#player").get_attribute("controls") is not None
    assert page.locator("input[type=range]").count() == 0
    page.locator(".film-frame").nth(7).click()
    target = 7.5 / 10 * duration
    wait_js(page, f"() => !{PLAYER}.seeking && Math.abs({PLAYER}.currentTime - {target}) < 0.3")
    # and a seek from script lands where asked
    page.evaluate("document.getElementById('player').currentTime = 1.25")
    wait_js(page, f"() => !{PLAYER}.seeking && Math.abs({PLAYER}.currentTime - 1.25) < 0.3")

    # remix: a slower job so the page sees the new branch grow by its poll (and the remix's own page, opened
    # after the remix's answer, finds it still in flight)
    assert not polls  # nothing in flight on the page yet: no poll
    sorasim_shared.control.patch_faults(job_seconds=16)
    page.get_by_label("What should change?").fill("the same lighthouse at night, a storm coming")
    page.get_by_role("button", name="Remix", exact=True).click()
    page.wait_for_load_state()
    child = Render.objects.get(remix_of=parent)
    assert child.api_key_id == sim_key.pk
    lineage = page.locator("#lineage")
    assert lineage.get_by_role("link", name=f"#{child.pk}", exact=True).is_visible()
    # the remix's own page, opened while it renders: a progress bar, then the player once it is stored
    child_page = page.context.new_page()
    child_page.goto(detail(child))
    assert child_page.locator("#render-progress").count() == 1 and child_page.locator("#player").count() == 0
    page.evaluate("window.reviewMarker = 'no reload'")
    node = lineage.locator(".lineage-node", has=page.get_by_role("link", name=f"#{child.pk}", exact=True))
    seen = set()

    def grown():
        text = node.inner_text()
        seen.add(text.split("\n")[1])  # the status badge, as the poll brings it
        return "Completed" in text

    wait_for(grown, timeout=60, every=0.2, what="the remix to show as completed in the lineage")
    assert node.locator(f"img[src$='{asset(child, 'thumbnail')}']").count() == 1  # with its thumbnail
    assert page.evaluate("window.reviewMarker") == "no reload"  # the lineage grew in place
    assert len(seen) >= 2, seen  # it was seen in flight first, then completed
    child.refresh_from_db()
    assert child.status == Status.COMPLETED and child.remix_of == parent
    child_page.locator("#player").wait_for(timeout=30_000)  # its poll reloaded the page once, at the end
    assert child_page.locator("#render-progress").count() == 0
    assert "data-poll" not in child_page.locator("#render-live").evaluate("el => el.outerHTML")
    child_page.close()
    # one poll, about every 2 s, while the remix was in flight; none once it completed
    assert len(polls) >= 2
    wait_js(page, "() => !document.getElementById('render-live').hasAttribute('data-poll')")
    # when each request started, by the browser's clock (this process hears of a request late, by a varying delay)
    starts = [r.timing["startTime"] / 1000 for r in polls]
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert min(gaps) > 1.5, gaps  # never two pollers
    settled = len(polls)
    page.wait_for_timeout(4500)
    assert len(polls) == settled

    # comment, in place (the video is not reloaded)
    page.get_by_label("Comment:", exact=True).fill("The storm version works. Ship it.")
    page.get_by_role("button", name="Comment", exact=True).click()
    page.locator("#comments .comment", has_text="Ship it").wait_for()
    assert page.evaluate("window.reviewMarker") == "no reload"
    comment = Comment.objects.get(render=parent)
    assert comment.author == alice and comment.body == "The storm version works. Ship it."
    assert "alice" in page.locator(f"#comment-{comment.pk}").inner_text()


def test_an_outsider_gets_404_on_the_page_and_every_asset(alice, charlie, project, context_factory):
    render = Render.objects.create(project=project, author=alice, prompt="a lighthouse", model="sora-2",
                                   size="1280x720", seconds=4, status=Status.COMPLETED)
    for variant, name, content in (("video", "video.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2000),
                                   ("thumbnail", "thumbnail.webp", b"RIFF\x00\x00\x00\x00WEBPVP8 "),
                                   ("spritesheet", "spritesheet.jpg", b"\xff\xd8\xff\xe0 jpeg")):
        getattr(render, variant).save(name, ContentFile(content), save=False)
    render.save()
    urls = [asset(render, v) + suffix for v in ("video", "thumbnail", "spritesheet") for suffix in ("", "?download=1")]

    member = context_factory(alice)
    assert member.new_page().goto(detail(render)).status == 200
    for url in urls:
        assert member.request.get(url).status == 200, url

    outsider = context_factory(charlie).new_page()
    response = outsider.goto(detail(render))
    assert response.status == 404
    assert outsider.get_by_role("heading", name="Nothing here").is_visible()
    for url in urls:
        answer = outsider.request.get(url, headers={"Range": "bytes=0-99"})
        assert answer.status == 404, url
    for name in ("render_compare", "render_delete"):
        url = reverse(name, kwargs={"project_id": project.pk, "render_id": render.pk})
        assert outsider.goto(url).status == 404, url
