"""Helpers for the sorasim suite: a fresh key per test and a webhook receiver (waits: tests/fixtures/waits.py)."""

import http.server
import threading
import time
import uuid

import pytest

from tests.fixtures.waits import eventually


def pytest_collection_modifyitems(items):
    # the SDK marks its video methods deprecated (OpenAI's own endpoint closed); the API shape is what we test
    for item in items:
        if "tests/sorasim" in str(item.path):
            item.add_marker(pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning"))


@pytest.fixture
def sim(sorasim_shared):
    """The session server, reset, with short jobs: tests about timing set job_seconds themselves."""
    sorasim_shared.control.patch_faults(job_seconds=0.3)
    return sorasim_shared


@pytest.fixture
def key(sim):
    """A key of its own, so counters and lists see only this test's work (older jobs may still be finishing)."""
    name = f"sk-{uuid.uuid4().hex[:12]}"
    sim.control.set_key(name)
    return name


@pytest.fixture
def client(sim, key):
    return sim.client(api_key=key)


class Receiver:
    """A real HTTP endpoint on a free port that records webhook deliveries and answers with scripted statuses."""

    def __init__(self):
        self.deliveries = []  # (headers dict, raw body bytes, time received)
        self.statuses = []  # answers to give, in order; 200 once exhausted
        self.delays = []  # seconds to wait before answering, in order; none once exhausted
        self.closing = threading.Event()  # ends every delay at once, so close() never waits one out
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    receiver.deliveries.append(({k.lower(): v for k, v in self.headers.items()}, body, time.time()))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    delay = receiver.delays.pop(0) if receiver.delays else 0
                receiver.closing.wait(delay)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, count, timeout=60):
        eventually(lambda: len(self.deliveries) >= count, timeout)
        return list(self.deliveries)

    def close(self):
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()
