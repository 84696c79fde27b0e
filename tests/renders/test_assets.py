"""The asset view: members only, Range support for seeking, the right types, never an open media URL."""

import time
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from projects.models import Membership, Role
from renders.states import Status

pytestmark = pytest.mark.django_db

VIDEO = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture
def done(make_render):
    render = make_render(Status.COMPLETED)
    render.video.save("video.mp4", ContentFile(VIDEO), save=False)
    render.thumbnail.save("thumbnail.webp", ContentFile(b"RIFF....WEBP"), save=False)
    render.spritesheet.save("spritesheet.jpg", ContentFile(b"\xff\xd8\xff jpeg"), save=False)
    render.save()
    return render


def url(render, variant="video"):
    return reverse("render_asset", kwargs={"project_id": render.project_id, "render_id": render.pk,
                                           "variant": variant})


def content(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_it_serves_the_whole_video_to_a_member(client, bob, done):
    client.force_login(bob)
    response = client.get(url(done))
    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Length"] == str(len(VIDEO))
    assert "private" in response["Cache-Control"]
    assert content(response) == VIDEO


@pytest.mark.parametrize(("variant", "content_type"), [("thumbnail", "image/webp"), ("spritesheet", "image/jpeg")])
def test_it_serves_images_with_their_types(client, alice, done, variant, content_type):
    client.force_login(alice)
    response = client.get(url(done, variant))
    assert response.status_code == 200
    assert response["Content-Type"] == content_type


def test_a_viewer_may_watch(client, done, django_user_model):
    viewer = django_user_model.objects.create_user("vera", "vera@example.org", "password")
    Membership.objects.create(project=done.project, user=viewer, role=Role.VIEWER)
    client.force_login(viewer)
    assert client.get(url(done)).status_code == 200


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-99", 0, 99), ("bytes=100-", 100, 10239), ("bytes=-100", 10140, 10239), ("bytes=10000-99999", 10000,
                                                                                          10239)],
)
def test_it_answers_a_range_with_206(client, alice, done, header, start, end):
    client.force_login(alice)
    response = client.get(url(done), HTTP_RANGE=header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(VIDEO)}"
    assert response["Content-Length"] == str(end - start + 1)
    assert content(response) == VIDEO[start:end + 1]


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=500-100", "bytes=-0", "items=0-1"])
def test_it_answers_an_unsatisfiable_range_with_416(client, alice, done, header):
    client.force_login(alice)
    response = client.get(url(done), HTTP_RANGE=header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(VIDEO)}"


def test_it_serves_the_whole_file_for_several_ranges(client, alice, done):
    client.force_login(alice)
    response = client.get(url(done), HTTP_RANGE="bytes=0-1,5-6")
    assert response.status_code == 200
    assert content(response) == VIDEO


def test_it_offers_a_download(client, alice, done):
    client.force_login(alice)
    response = client.get(url(done) + "?download=1")
    assert response["Content-Disposition"] == f'attachment; filename="render-{done.pk}-video.mp4"'


def test_outsiders_get_404_and_anonymous_visitors_sign_in(client, charlie, done):
    assert client.get(url(done)).status_code == 302
    client.force_login(charlie)
    for variant in ("video", "thumbnail", "spritesheet"):
        assert client.get(url(done, variant)).status_code == 404


def test_another_projects_id_is_404(client, alice, done):
    from projects.models import Project

    other = Project.objects.create(name="Other")
    Membership.objects.create(project=other, user=alice, role=Role.OWNER)
    client.force_login(alice)
    response = client.get(reverse("render_asset", kwargs={"project_id": other.pk, "render_id": done.pk,
                                                          "variant": "video"}))
    assert response.status_code == 404


def test_a_missing_asset_an_unknown_variant_and_a_deleted_render_are_404(client, alice, done, make_render):
    client.force_login(alice)
    assert client.get(url(make_render(Status.QUEUED))).status_code == 404
    assert client.get(url(done, "poster")).status_code == 404
    done.deleted_at = done.completed_at or done.created_at
    done.save()
    assert client.get(url(done)).status_code == 404


def test_it_hands_the_file_to_nginx_with_x_accel_redirect(client, alice, done, settings):
    settings.ASSET_ACCEL_REDIRECT_PREFIX = "/protected/"
    client.force_login(alice)
    response = client.get(url(done))
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/protected/{done.video.name}"
    assert response["Content-Type"] == "video/mp4"
    assert response.content == b""


def test_it_redirects_to_a_short_lived_presigned_url_on_s3(client, alice, make_render, settings):
    render = make_render(Status.COMPLETED, video="renders/1/1/video.mp4")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
            "bucket_name": "soraweb-test", "access_key": "AKIATEST", "secret_key": "secret",
            "endpoint_url": "http://127.0.0.1:9", "region_name": "us-east-1", "querystring_auth": True,
            "querystring_expire": 300}},
    }
    client.force_login(alice)
    response = client.get(url(render))
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("http://127.0.0.1:9/soraweb-test/renders/1/1/video.mp4?")
    query = parse_qs(urlparse(location).query)
    assert "Signature" in query or "X-Amz-Signature" in query  # presigned (SigV2 or SigV4)
    if "Expires" in query:
        assert 0 < int(query["Expires"][0]) - time.time() <= 301
    else:
        assert query["X-Amz-Expires"] == ["300"]
