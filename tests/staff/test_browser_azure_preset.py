"""An Azure AI Foundry key from the staff pages to a finished render, in headless Chromium against sorasim speaking
the azure dialect (base path /openai/v1, the key in the api-key header), a real worker and the default settings:
staff add the key with the Azure preset, run Detect, save it sending references as data URLs, and a member
completes a 16 s 1920x1080 sora-2-pro render from a reference image."""

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from providers.models import ApiKey
from renders.models import Render
from renders.states import Status
from tests.fixtures.browser import Problems
from tests.fixtures.sorasim import API_KEY

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.slow(30),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("quota_defaults"),
]

# the worker's calls (probe, create, polls, download of a 16 s video) with a wide margin
DEADLINE_MS = 90_000


def png(width, height):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 90, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def test_an_azure_key_added_with_its_preset_completes_a_1080p_render(
    context_factory, staff, alice, project, sorasim_shared, start_worker, live_server
):
    sorasim_shared.control.set_key(API_KEY, dialect="azure")
    start_worker(SITE_URL=live_server.url)
    page = context_factory(staff).new_page()
    problems = Problems(page)

    # add the key: the preset fills the key header and the capabilities
    page.goto("/staff/keys/new/")
    page.get_by_label("Preset:", exact=True).select_option("azure")
    expect(page.get_by_label("Key header:", exact=True)).to_have_value("api-key")
    page.get_by_label("Name:", exact=True).fill("Azure")
    page.get_by_label("Base URL:", exact=True).fill(sorasim_shared.url + "/openai/v1")
    page.get_by_label("API key:", exact=True).fill(API_KEY)
    page.get_by_role("button", name="Add key").click()
    page.wait_for_url(re.compile(r"/staff/keys/\d+/$"))
    key = ApiKey.objects.get(name="Azure")
    assert (key.preset, key.auth_header, key.has_webhooks) == ("azure", "api-key", False)

    # Detect: a worker probes the provider; what it proposes (if anything differs) is applied
    page.get_by_role("link", name="Detect").first.click()
    page.get_by_role("button", name="Detect", exact=True).click()
    page.locator('[data-outcome="done"]').wait_for(timeout=DEADLINE_MS)
    expect(page.locator("#key-detect")).to_contain_text("Azure AI Foundry")
    apply = page.get_by_role("button", name="Apply the detected profile")
    if apply.count():
        apply.click()
        page.wait_for_url(re.compile(rf"/staff/keys/{key.pk}/$"))
    key.refresh_from_db()
    assert (key.preset, key.auth_header, key.base_url) == ("azure", "api-key", sorasim_shared.url + "/openai/v1")

    # save it sending reference images as data URLs in JSON
    page.goto(f"/staff/keys/{key.pk}/edit/")
    page.get_by_label("Reference image sent as:", exact=True).select_option("image_url")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(rf"/staff/keys/{key.pk}/$"))
    key.refresh_from_db()
    assert key.reference_as == "image_url"
    assert problems.all() == []

    # a member renders 16 s of sora-2-pro at 1920x1080 from a reference of that size
    page = context_factory(alice).new_page()
    page.goto(f"/projects/{project.pk}/")
    page.get_by_label("Model", exact=True).select_option("sora-2-pro")
    page.get_by_label("Size", exact=True).select_option("1920x1080")
    page.get_by_label("Length", exact=True).select_option("16")
    expect(page.locator("#estimate")).to_contain_text("$11.20")  # 16 s x $0.70
    page.get_by_label("Reference image (optional)").set_input_files(
        {"name": "first-frame.png", "mimeType": "image/png", "buffer": png(1920, 1080)}
    )
    prompt = "Wide shot: a lighthouse on a cliff at dusk, waves below"
    page.get_by_label("Prompt", exact=True).fill(prompt)
    page.get_by_role("button", name="Submit render").click()
    card = page.locator("#history-list > li", has_text=prompt)
    expect(card.locator(".badge")).to_have_text("Completed", timeout=DEADLINE_MS)

    render = Render.objects.get()
    assert (render.status, render.model, render.size, render.seconds) == (
        Status.COMPLETED,
        "sora-2-pro",
        "1920x1080",
        16,
    )
    assert render.api_key == key and render.reference_image
    job = sorasim_shared.control.video(render.provider_video_id)
    assert job.get("reference") and job["size"] == "1920x1080" and str(job["seconds"]) == "16"
    requests = sorasim_shared.control.counters(API_KEY)["requests"]
    assert requests.get("POST /openai/v1/videos 200") == 1  # the create, on Azure's path, with Azure's header
