"""A key whose reference goes as an image URL: the create is JSON with input_reference {"image_url": <data URL>},
and sorasim (every dialect decodes it) keeps the very image; from the client and from the render pipeline."""

import io
import json

import httpx
import pytest
from PIL import Image

from providers.client import InvalidRequest, VideoClient, data_url
from renders import pipeline
from renders.states import Status
from tests.fixtures.world import submit
from tests.renders.test_submit import image_file

pytestmark = pytest.mark.django_db


def png(size):
    buffer = io.BytesIO()
    Image.new("RGB", size, (20, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def stored_reference(sim, video_id):
    job = sim.control.video(video_id)
    return job["reference"]


def test_data_url():
    assert data_url(b"\x89PNG", "image/png") == "data:image/png;base64,iVBORw=="
    assert data_url(io.BytesIO(b"abc"), "image/jpeg") == "data:image/jpeg;base64,YWJj"


class Recording(httpx.HTTPTransport):
    """The real transport, remembering the content type and body of each request it sends."""

    def __init__(self):
        super().__init__()
        self.sent = []

    def handle_request(self, request):
        self.sent.append((request.headers.get("content-type", ""), request.read()))
        return super().handle_request(request)


@pytest.mark.sim_key(reference_as="image_url")
def test_the_client_sends_the_reference_as_a_data_url(sim_key):
    transport = Recording()
    with VideoClient(sim_key.base_url, sim_key.secret, transport=transport, timeout=10) as client:
        video = client.create(
            prompt="from this frame",
            size="1280x720",
            input_reference=("first.png", png((1280, 720)), "image/png"),
            reference_as=sim_key.reference_as,
        )
        with pytest.raises(InvalidRequest) as refused:  # checked like an upload: the size must match
            client.create(
                prompt="wrong size",
                input_reference=("x.png", io.BytesIO(png((64, 64))), "image/png"),
                reference_as="image_url",
            )
    assert refused.value.param == "input_reference"
    content_type, body = transport.sent[0]
    assert content_type == "application/json"
    assert json.loads(body)["input_reference"]["image_url"].startswith("data:image/png;base64,iVBOR")
    assert stored_reference(sim_key.sim, video.id) == "reference.png"
    assert sim_key.control.counters(sim_key.secret)["creates_accepted"] == 1


@pytest.mark.sim_key(reference_as="image_url")
def test_the_pipeline_sends_the_render_reference_as_a_data_url(alice, project, sim_key):
    render = submit(alice, project, reference_image=image_file())
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    assert render.status in (Status.QUEUED, Status.IN_PROGRESS), render.error_message
    assert stored_reference(sim_key.sim, render.provider_video_id) == "reference.png"


def test_a_file_key_still_uploads(alice, project, sim_key):
    render = submit(alice, project, reference_image=image_file())
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    assert stored_reference(sim_key.sim, render.provider_video_id) == "reference.png"
