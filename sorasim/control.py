"""A small synchronous client for the admin API, so tests and benchmarks never hand-roll HTTP.

    from sorasim.control import SimControl
    sim = SimControl("http://127.0.0.1:8765")          # the server root (a trailing /v1 is ignored)
    sim.set_key("sk-test-1", credit_usd=2.0, rpm=10, webhook_urls=["http://127.0.0.1:9000/hook"])
    sim.patch_faults(error_rate=0.5, error_statuses=[503])
    sim.counters("sk-test-1")["creates_accepted"]

Every method returns the decoded JSON answer; a non-2xx answer raises SimControlError.
"""

import httpx


class SimControlError(RuntimeError):
    def __init__(self, status, body):
        super().__init__(f"sorasim admin answered {status}: {body}")
        self.status = status
        self.body = body


class SimControl:
    def __init__(self, base_url, timeout=10.0):
        root = base_url.rstrip("/")
        self.base_url = root.removesuffix("/v1")
        self._http = httpx.Client(base_url=self.base_url + "/_sim", timeout=timeout)

    def _call(self, method, path, **kwargs):
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 300:
            try:
                body = response.json()
            except ValueError:
                body = response.text
            raise SimControlError(response.status_code, body)
        return response.json()

    def close(self):
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def health(self):
        return self._call("GET", "/health")

    # keys
    def keys(self):
        return self._call("GET", "/keys")["data"]

    def key(self, key):
        return self._call("GET", f"/keys/{key}")

    def set_key(self, key, **fields):
        """Create or update a key. Fields: credit_usd (None = unlimited), rpm, webhook_urls, webhook_secret, valid,
        dialect ("openai", "newapi", "litellm", "azure"; None = the server's --dialect)."""
        return self._call("PUT", f"/keys/{key}", json=fields)

    def delete_key(self, key):
        return self._call("DELETE", f"/keys/{key}")

    def top_up(self, key, usd):
        return self._call("POST", f"/keys/{key}/top-up", json={"usd": usd})

    # faults and job timing
    def faults(self):
        return self._call("GET", "/faults")

    def patch_faults(self, **fields):
        return self._call("PATCH", "/faults", json=fields)

    def reset_faults(self):
        return self._call("POST", "/reset-faults")

    # counters
    def counters(self, key=None):
        """One key's counters, or {"keys": {key: counters}} for all."""
        return self._call("GET", "/counters", params={"key": key} if key else None)

    def reset_counters(self, key=None):
        return self._call("POST", "/reset-counters", params={"key": key} if key else None)

    def reset(self):
        """Faults, counters and keys back to the startup state (jobs stay)."""
        return self._call("POST", "/reset")

    # jobs, with the simulator's internals (key, fault decisions, webhook deliveries)
    def videos(self, key=None):
        return self._call("GET", "/videos", params={"key": key} if key else None)["data"]

    def video(self, video_id):
        return self._call("GET", f"/videos/{video_id}")

    def video_reference(self, video_id):
        """The bytes of the reference image the job's create sent, exactly as received."""
        response = self._http.get(f"/videos/{video_id}/reference")
        if response.status_code >= 300:
            raise SimControlError(response.status_code, response.text)
        return response.content

    def expire_video(self, video_id):
        return self._call("POST", f"/videos/{video_id}/expire")

    def advance_video(self, video_id, seconds):
        """Move one job `seconds` (whole) further through its life: progress, completion and expiry come sooner."""
        return self._call("POST", f"/videos/{video_id}/advance", json={"seconds": seconds})
