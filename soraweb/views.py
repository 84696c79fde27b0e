from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from soraweb import health


@never_cache
@require_GET
def healthz(request):
    """200 "ok"; 200 "starting" while a process started moments ago has not reported yet (not an error to log);
    503 "down" naming what is down."""
    results = health.report()
    down = sorted(name for name, state in results.items() if state not in ("ok", "starting"))
    word = "down" if down else "starting" if "starting" in results.values() else "ok"
    return JsonResponse({"status": word, "down": down, "checks": results}, status=503 if down else 200)
