"""The outbound-URL policy on provider keys (soraweb.outbound): refused on save, and again at each connection on the
address it reaches, so DNS rebinding and redirects cannot lead a key's requests to our own network. The suite runs
with OUTBOUND_ALLOW_PRIVATE on (keys talk to sorasim on 127.0.0.1); these tests turn it off unless they say."""

import io
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from django.core.exceptions import ValidationError
from django.forms import modelform_factory

from providers import detect, keyadmin
from providers.errors import InvalidKey, URLRefused
from providers.models import ApiKey, KeyState, KeyTest
from renders import pipeline
from soraweb import envfile

PUBLIC = "93.184.215.14"  # an address on the internet (nothing is sent to it: the tests stop before)


@pytest.fixture(autouse=True)
def policy_on(settings):
    settings.OUTBOUND_ALLOW_PRIVATE = False


@pytest.fixture
def resolver(monkeypatch):
    """resolver(name, first, then=None): `name` answers `first` once, then `then` (a rebinding DNS server); other
    names resolve as usual."""
    real = socket.getaddrinfo
    names = {}

    def getaddrinfo(host, port, *args, **kwargs):
        if host in names:
            answers = names[host]
            host = answers.pop(0) if len(answers) > 1 else answers[0]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def add(name, first, then=None):
        names[name] = [first] if then is None else [first, then]

    return add


@pytest.fixture
def listener():
    """A TCP socket on 127.0.0.1 that nobody should reach: .port, and .reached() tells if anything connected."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)

    class Listener:
        port = sock.getsockname()[1]

        def reached(self):
            try:
                conn, _ = sock.accept()
            except BlockingIOError:
                return False
            conn.close()
            return True

    yield Listener()
    sock.close()


def base_url_errors(**fields):
    key = ApiKey(name="k", **fields)
    key.secret = "sk-outbound-0001"
    try:
        key.full_clean()
    except ValidationError as exc:
        return exc.message_dict.get("base_url", [])
    return []


def saved_key(base_url):
    # saved without the form: a key stored before the policy, or whose name resolves elsewhere since
    key = ApiKey(name="outbound", base_url=base_url, rpm_limit=0, max_concurrent=0)
    key.secret = "sk-outbound-0002"
    key.save()
    return key


@pytest.mark.django_db
def test_a_base_url_on_localhost_is_refused_on_save_and_accepted_with_the_setting(settings):
    [error] = base_url_errors(base_url="https://localhost:8765/v1")
    assert "refuses localhost" in error and "loopback address" in error and "OUTBOUND_ALLOW_PRIVATE" in error

    form = modelform_factory(ApiKey, fields=["name", "base_url"])(
        data={"name": "local", "base_url": "http://localhost:8765/v1"})
    assert not form.is_valid() and "https" in form.errors["base_url"][0]

    settings.OUTBOUND_ALLOW_PRIVATE = True
    assert base_url_errors(base_url="http://localhost:8765/v1") == []
    assert modelform_factory(ApiKey, fields=["name", "base_url"])(
        data={"name": "local", "base_url": "http://localhost:8765/v1"}).is_valid()


@pytest.mark.django_db
def test_a_name_resolving_to_a_private_address_is_refused_on_save(resolver):
    resolver("provider.test", "10.0.0.7")
    [error] = base_url_errors(base_url="https://provider.test/v1")
    assert "provider.test (10.0.0.7): a private address" in error


@pytest.mark.django_db
def test_only_https_is_allowed_without_the_setting(resolver):
    resolver("provider.test", PUBLIC)
    [error] = base_url_errors(base_url="http://provider.test/v1")
    assert "only https" in error
    assert base_url_errors(base_url="https://provider.test/v1") == []


@pytest.mark.django_db
@pytest.mark.parametrize("base_url", ["https://169.254.169.254/latest", "https://[fd00:ec2::254]/v1",
                                      "https://metadata.test/v1", "https://[::ffff:169.254.169.254]/v1"])
def test_a_metadata_address_is_refused_even_with_the_setting(settings, resolver, base_url):
    resolver("metadata.test", "169.254.169.254")
    settings.OUTBOUND_ALLOW_PRIVATE = True
    [error] = base_url_errors(base_url=base_url)
    assert "a cloud metadata address" in error and "OUTBOUND_ALLOW_PRIVATE" not in error


@pytest.mark.django_db
@pytest.mark.parametrize("make_client", [ApiKey.client, pipeline.provider_client], ids=["key", "pipeline"])
def test_dns_rebinding_is_refused_at_connect_time(resolver, listener, make_client):
    # public when the key is saved, 127.0.0.1 when the worker connects
    resolver("rebind.test", PUBLIC, then="127.0.0.1")
    key = ApiKey(name="rebinding", base_url=f"https://rebind.test:{listener.port}/v1", rpm_limit=0, max_concurrent=0)
    key.secret = "sk-outbound-0003"
    key.full_clean()
    key.save()

    with make_client(key) as client:
        with pytest.raises(URLRefused) as caught:
            client.create(prompt="a fox")  # refused before a byte was sent: not an unknown outcome
    assert isinstance(caught.value, InvalidKey) and not caught.value.retryable
    assert "was not sent" in caught.value.message and "rebind.test (127.0.0.1): a loopback address" in str(caught.value)
    assert not listener.reached()


@pytest.mark.django_db
def test_a_stored_key_to_a_refused_address_fails_its_test_with_the_reason(listener):
    key = saved_key(f"https://127.0.0.1:{listener.port}/v1")
    test = KeyTest.objects.create(key=key)

    test = keyadmin.run_test(test.pk)

    assert test.outcome == KeyTest.Outcome.NOT_SENT
    assert "Nothing was sent" in test.message and "127.0.0.1: a loopback address" in test.message
    key.refresh_from_db()
    assert key.state == KeyState.INVALID and "URLRefused" in key.last_error and "loopback" in key.last_error
    assert not listener.reached()


@pytest.mark.django_db
def test_detect_says_nothing_was_sent_to_a_refused_address(listener):
    key = saved_key(f"https://127.0.0.1:{listener.port}/v1")

    findings, proposal = detect.probe(key)

    assert proposal == {}
    assert len(findings) == 1 and findings[0].startswith("Nothing was sent") and "loopback" in findings[0]
    assert not listener.reached()


def test_make_run_allows_local_servers(tmp_path):
    env = tmp_path / ".env"
    envfile.ensure_dev_defaults(env)
    assert envfile.read(env)["OUTBOUND_ALLOW_PRIVATE"] == "1"


@pytest.mark.django_db
def test_a_download_redirected_to_a_private_address_is_refused():
    sent = []

    def provider(request):
        sent.append(request.url.host)
        return httpx.Response(302, headers={"location": "https://10.1.2.3/video.mp4"})

    key = saved_key("https://provider.example/v1")
    with key.client(transport=httpx.MockTransport(provider)) as client:
        with pytest.raises(URLRefused) as caught:
            client.download("video_1", io.BytesIO())
    assert "10.1.2.3: a private address" in caught.value.message
    assert sent == ["provider.example"]  # the redirect itself never left


@pytest.fixture
def redirecting_server():
    """A provider on 127.0.0.1 whose /content redirects to `.location`; `.paths` are the requests it saw."""
    paths = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            paths.append(self.path)
            self.send_response(302)
            self.send_header("Location", server.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.paths = paths
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.django_db
def test_a_redirect_to_a_name_with_a_metadata_address_is_refused_at_connect_time(settings, resolver,
                                                                                  redirecting_server):
    settings.OUTBOUND_ALLOW_PRIVATE = True  # the provider is a local server
    resolver("cdn.test", "169.254.169.254")
    redirecting_server.location = "http://cdn.test/video.mp4"
    key = saved_key(f"http://127.0.0.1:{redirecting_server.server_port}/v1")

    with pipeline.provider_client(key) as client:
        with pytest.raises(URLRefused) as caught:
            client.download("video_1", io.BytesIO())
    assert "cdn.test (169.254.169.254): a cloud metadata address" in caught.value.message
    assert redirecting_server.paths == ["/v1/videos/video_1/content?variant=video"]


@pytest.mark.django_db
def test_a_render_on_a_key_to_a_refused_address_waits_for_another_key_and_says_why(listener, alice, project):
    from renders.models import EventKind
    from renders.states import Status
    from tests.fixtures.world import submit

    key = saved_key(f"https://127.0.0.1:{listener.port}/v1")
    render = submit(alice, project)
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    key.refresh_from_db()
    assert (render.status, render.api_key, key.state) == (Status.WAITING, None, KeyState.INVALID)
    said = render.events.filter(kind=EventKind.RETRY).last().message
    assert "address is not allowed" in said and "nothing was sent" in said and "loopback" in said
    assert not listener.reached()
