"""Keyboard use: the skip link comes first, and every focused control shows a visible focus ring."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.project(description="Spring launch")]

FOCUS_STYLE = """() => {
  const el = document.activeElement;
  const s = getComputedStyle(el);
  const card = el.closest('.card-link');
  const cardStyle = card ? getComputedStyle(card) : null;
  return {tag: el.tagName, text: (el.innerText || el.value || el.name || '').trim().slice(0, 40),
          outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2,
          cardOutline: !!cardStyle && cardStyle.outlineStyle !== 'none' && parseFloat(cardStyle.outlineWidth) >= 2,
          visible: el.getBoundingClientRect().width > 0};
}"""


def _tab_through(page, steps):
    """Press Tab up to `steps` times; stop when focus leaves the page (back to <body>)."""
    seen = []
    for _ in range(steps):
        page.keyboard.press("Tab")
        state = page.evaluate(FOCUS_STYLE)
        if state["tag"] == "BODY":
            break
        seen.append(state)
    return seen


def test_the_skip_link_comes_first_and_jumps_to_the_content(context_factory, alice, project):
    page = context_factory(alice).new_page()
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert page.locator(".skip-link").bounding_box()["x"] >= 0  # moved on screen while focused
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")


@pytest.mark.parametrize("path", ["/", "/projects/{pk}/members/", "/projects/{pk}/settings/", "/projects/new/"])
def test_every_focused_control_has_a_visible_ring(context_factory, alice, project, path):
    page = context_factory(alice).new_page()
    page.goto(path.format(pk=project.pk))
    seen = _tab_through(page, 25)
    assert len({(s["tag"], s["text"]) for s in seen}) >= 5  # the walk moved through the page
    for state in seen:
        assert state["visible"], state
        assert state["outline"] or state["cardOutline"], f"no focus ring on {state}"


def test_a_project_card_is_reached_and_opened_with_the_keyboard(context_factory, alice, project):
    page = context_factory(alice).new_page()
    page.goto("/")
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Trailer":
            break
    else:
        pytest.fail("the project link was never focused")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/projects/{project.pk}/")
