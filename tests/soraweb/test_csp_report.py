"""POST /csp-report/: what the Content-Security-Policy blocked, as browsers report it (report-uri's
application/csp-report, or the Reporting API's application/reports+json): one compact log line per violation and
204; no session or CSRF token needed; oversized bodies refused unread; rate limited per client address."""

import json
import logging
from datetime import timedelta

import pytest
from django.utils import timezone

pytestmark = pytest.mark.django_db

URL = "/csp-report/"
REPORT = {"csp-report": {
    "document-uri": "http://testserver/invitations/s3cr3t-token-of-the-invitation/",
    "violated-directive": "img-src", "effective-directive": "img-src", "blocked-uri": "https://evil.example",
    "source-file": "http://testserver/static/js/app.js", "line-number": 12, "disposition": "enforce",
    "original-policy": "default-src 'self'; " + "x" * 300}}
BATCH = [
    {"type": "csp-violation", "url": "http://testserver/projects/7/", "body": {
        "documentURL": "http://testserver/projects/7/?q=fox", "effectiveDirective": "style-src-attr",
        "blockedURL": "inline", "sourceFile": "http://testserver/static/vendor/htmx.min.js", "lineNumber": 1,
        "disposition": "enforce"}},
    {"type": "deprecation", "body": {"id": "x"}},  # not a CSP report: skipped
]


@pytest.fixture
def csp_log(caplog):
    caplog.set_level(logging.WARNING, logger="soraweb.csp")
    return lambda: [r.getMessage() for r in caplog.records if r.name == "soraweb.csp"]


def _post(client, body, content_type="application/csp-report", **extra):
    return client.post(URL, body if isinstance(body, bytes) else json.dumps(body), content_type=content_type, **extra)


def test_pages_carry_the_report_uri_in_their_policy(client):
    response = client.get("/accounts/login/")
    assert "report-uri /csp-report/" in response["Content-Security-Policy"]


def test_it_logs_a_report_uri_violation_in_one_line_and_answers_204(client, csp_log):
    client.handler.enforce_csrf_checks = True  # browsers send no token
    response = _post(client, REPORT)
    assert response.status_code == 204 and response.content == b""
    # the page by its URL name: its path may hold a credential (an invitation's token)
    assert csp_log() == ["csp violation page=invitation_accept directive=img-src blocked=https://evil.example "
                         "source=http://testserver/static/js/app.js line=12 disposition=enforce"]
    assert "s3cr3t" not in csp_log()[0]


def test_it_logs_the_csp_reports_of_a_reporting_api_batch(client, csp_log):
    assert _post(client, BATCH, "application/reports+json").status_code == 204
    assert csp_log() == ["csp violation page=studio directive=style-src-attr blocked=inline "
                         "source=http://testserver/static/vendor/htmx.min.js line=1 disposition=enforce"]


def test_values_cannot_break_the_log_line(client, csp_log):
    report = {"csp-report": {"document-uri": "http://testserver/nowhere/\nforged", "effective-directive":
                             "img-src\nWARNING forged line", "blocked-uri": "x" * 5000}}
    assert _post(client, report).status_code == 204
    [line] = csp_log()
    assert "\n" not in line and "directive=img-src_WARNING_forged_line" in line and len(line) < 700


def test_oversized_bodies_are_refused_unread(client, settings, csp_log):
    settings.CSP_REPORT_MAX_BYTES = 1024
    big = {"csp-report": {**REPORT["csp-report"], "script-sample": "y" * 2000}}
    assert _post(client, big).status_code == 413
    assert csp_log() == []


def test_other_bodies_are_refused(client, csp_log):
    assert client.post(URL, {"csp-report": "x"}).status_code == 415  # a form post
    assert _post(client, b"{not json").status_code == 400
    assert _post(client, {"something": "else"}).status_code == 204 and csp_log() == []
    assert client.get(URL).status_code == 405


def test_reports_are_rate_limited_per_address(client, settings, monkeypatch, csp_log):
    settings.RATE_LIMIT_CSP_REPORTS_PER_MINUTE = 3
    start = timezone.now()
    monkeypatch.setattr("django.utils.timezone.now", lambda: start)
    for _ in range(3):
        assert _post(client, REPORT).status_code == 204
    refused = _post(client, REPORT)
    assert refused.status_code == 429 and refused["Retry-After"] == "60"
    assert len(csp_log()) == 3
    assert _post(client, REPORT, REMOTE_ADDR="192.0.2.7").status_code == 204  # another address
    monkeypatch.setattr("django.utils.timezone.now", lambda: start + timedelta(seconds=60))
    assert _post(client, REPORT).status_code == 204
