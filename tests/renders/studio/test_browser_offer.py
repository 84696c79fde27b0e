"""The studio's options in headless Chromium when the project's keys offer different things: the sizes follow the
model and the lengths follow the model and size (static/js/studio.js, data-sizes and data-lengths), the estimate
prices what is chosen, and "Use this prompt" on a card keeps to what the keys offer."""

import pytest
from playwright.sync_api import expect

from renders.states import Status
from tests.renders.studio.conftest import make_renders

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quota_defaults")]


@pytest.fixture
def keys(make_key):
    make_key("sora-2 gateway", model_table={"sora-2": {"sizes": ["1280x720", "720x1280"], "seconds": [4, 8]}})
    make_key("1080p gateway", model_table={"sora-2-pro": {"sizes": ["1920x1080", "1080x1920"], "seconds": [16, 20]}})


def offered(select):
    return select.locator("option:not([disabled])").evaluate_all("options => options.map(o => o.value)")


def test_the_lengths_follow_the_model_and_the_estimate_the_options(context_factory, bob, project, keys):
    page = context_factory(bob).new_page()
    page.goto(f"/projects/{project.pk}/")
    model, size = page.get_by_label("Model", exact=True), page.get_by_label("Size", exact=True)
    length = page.get_by_label("Length", exact=True)
    assert offered(size) == ["720x1280", "1280x720"] and offered(length) == ["4", "8"]
    expect(page.locator("#estimate")).to_contain_text("$0.40")

    model.select_option("sora-2-pro")
    expect(size).to_have_value("1920x1080")
    expect(length).to_have_value("16")
    assert offered(size) == ["1920x1080", "1080x1920"] and offered(length) == ["16", "20"]
    length.select_option("20")
    expect(page.locator("#estimate")).to_contain_text("$14.00")  # 20 s x $0.70

    model.select_option("sora-2")
    expect(length).to_have_value("4")
    expect(page.locator("#estimate")).to_contain_text("$0.40")


def test_use_this_prompt_keeps_to_what_the_keys_offer(context_factory, bob, project, keys):
    # a render of before the keys narrowed: 12 s is not offered any more, so the form keeps an offered length
    (source,) = make_renders(
        project, [bob], 1, model="sora-2", size="1280x720", seconds=12, statuses=(Status.COMPLETED,)
    )
    page = context_factory(bob).new_page()
    page.goto(f"/projects/{project.pk}/")
    page.get_by_label("Model", exact=True).select_option("sora-2-pro")
    page.locator(f"#render-{source.pk}").get_by_role("link", name="Use this prompt").click()
    expect(page.get_by_label("Model", exact=True)).to_have_value("sora-2")
    expect(page.get_by_label("Size", exact=True)).to_have_value("1280x720")
    expect(page.get_by_label("Length", exact=True)).to_have_value("4")
    expect(page.locator("#estimate")).to_contain_text("$0.40")
