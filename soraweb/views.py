import json
import logging
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.urls import Resolver404, resolve
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from soraweb import health, ratelimits

csp_log = logging.getLogger("soraweb.csp")
# report-uri's format (one violation), and the Reporting API's (report-to: a list of reports)
CSP_REPORT_TYPES = {"application/csp-report", "application/reports+json", "application/json"}
CSP_REPORTS_PER_BODY = 10  # a Reporting API batch may hold several; one line each, this many at most


@never_cache
@require_GET
def healthz(request):
    """200 "ok"; 200 "starting" while a process started moments ago has not reported yet (not an error to log);
    503 "down" naming what is down."""
    results = health.report()
    down = sorted(name for name, state in results.items() if state not in ("ok", "starting"))
    word = "down" if down else "starting" if "starting" in results.values() else "ok"
    return JsonResponse({"status": word, "down": down, "checks": results}, status=503 if down else 200)


@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links: the SVG icon, not a 404 in every console."""
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))


@csrf_exempt  # browsers post reports without a token, and a report changes nothing
@require_POST
def csp_report(request):
    """What the Content-Security-Policy blocked, as browsers report it (SECURE_CSP's report-uri): one compact log
    line per violation, 204. Bodies over CSP_REPORT_MAX_BYTES are refused unread (413); reports are rate limited
    per client address (429)."""
    if request.content_type not in CSP_REPORT_TYPES:
        return HttpResponse(status=415)
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return HttpResponse(status=400)
    if length > settings.CSP_REPORT_MAX_BYTES:
        return HttpResponse(status=413)
    # behind a proxy every report shares the proxy's address: the limit is per site then, still generous
    if refused := ratelimits.count("csp_report", f"ip:{request.META.get('REMOTE_ADDR', '')}"):
        response = HttpResponse(status=429)
        response["Retry-After"] = str(refused.retry_after)
        return response
    try:
        payload = json.loads(request.read(settings.CSP_REPORT_MAX_BYTES))
    except ValueError:
        return HttpResponse(status=400)
    for violation in _violations(payload)[:CSP_REPORTS_PER_BODY]:
        csp_log.warning("csp violation %s", " ".join(f"{name}={value}" for name, value in violation.items()))
    return HttpResponse(status=204)


def _violations(payload):
    """[{field: value}] of a report-uri body ({"csp-report": {...}}) or a Reporting API one ([{"type":
    "csp-violation", "body": {...}}]), in the same words."""
    if isinstance(payload, dict) and isinstance(payload.get("csp-report"), dict):
        report = payload["csp-report"]
        bodies = [{"documentURL": report.get("document-uri"), "blockedURL": report.get("blocked-uri"),
                   "effectiveDirective": report.get("effective-directive") or report.get("violated-directive"),
                   "sourceFile": report.get("source-file"), "lineNumber": report.get("line-number"),
                   "disposition": report.get("disposition")}]
    elif isinstance(payload, list):
        bodies = [item["body"] for item in payload if isinstance(item, dict)
                  and item.get("type") == "csp-violation" and isinstance(item.get("body"), dict)]
    else:
        bodies = []
    return [{"page": _page(body.get("documentURL")), "directive": _clean(body.get("effectiveDirective")),
             "blocked": _clean(body.get("blockedURL")), "source": _clean(body.get("sourceFile")),
             "line": _clean(body.get("lineNumber")), "disposition": _clean(body.get("disposition"))}
            for body in bodies]


def _page(url):
    """The page's URL name where it has one: a path may hold a credential (an invitation's token)."""
    path = urlsplit(_clean(url, 2000)).path
    try:
        return resolve(path).url_name or "-"
    except Resolver404:
        return _clean(path)


def _clean(value, limit=200):
    """A report's value fit for one log line: no spaces or control characters, bounded."""
    return re.sub(r"[\s\x00-\x1f\x7f]+", "_", str(value))[:limit] if value not in (None, "") else "-"
