"""Staff fixtures: the staff member (sam) signed in, the key form, tasks run eagerly, a key on a new-api relay, a
listener that records what reaches it."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.fixtures.sorasim import API_KEY, make_sim_key
from tests.fixtures.world import WEBHOOK_SECRET


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def key_form(**overrides):
    data = {"name": "Apifree", "provider": "apifree", "base_url": "https://api.example.com/v1",
            "secret": "sk-keyform-secret-9f8e", "webhook_secret": WEBHOOK_SECRET, "rpm_limit": 25,
            "max_concurrent": 10, "can_remix_endpoint": "on", "has_webhooks": "on",
            "has_list_endpoint": "on"}
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not None}


@pytest.fixture
def eager_tasks():
    """Enqueued tasks run at once, in the test's process (for tests of what a task does, not of the worker)."""
    from soraweb.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def relay(sim):
    """A key on a new-api relay (the shared sorasim speaking its dialect): no list endpoint, no webhooks."""
    key = make_sim_key(sim, name="relay", provider="new-api", preset="newapi", has_list_endpoint=False)
    sim.control.set_key(API_KEY, dialect="newapi")
    return key


class Listener:
    """An HTTP server on 127.0.0.1 standing for a server someone pointed a key at: it records each request (method,
    path, headers) and answers every one with `answer` (status, content type, body)."""

    def __init__(self):
        self.requests = []
        self.answer = (200, "application/json", json.dumps({"object": "list", "data": []}).encode())
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                listener.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers)})
                status, content_type, body = listener.answer
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_port}/v1"

    def answer_json(self, status, payload):
        self.answer = (status, "application/json", json.dumps(payload).encode())

    def headers_seen(self):
        """Every header value that reached the listener, lower-cased names."""
        return [(name.lower(), value) for request in self.requests for name, value in request["headers"].items()]


@pytest.fixture
def listener():
    listener = Listener()
    listener.thread.start()
    yield listener
    listener.server.shutdown()
    listener.server.server_close()
