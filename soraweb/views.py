from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from soraweb import health


@never_cache
@require_GET
def healthz(request):
    results = health.report()
    down = sorted(name for name, state in results.items() if state != "ok")
    status = 503 if down else 200
    return JsonResponse({"status": "ok" if not down else "down", "down": down, "checks": results}, status=status)
