"""The ASGI application: /v1 routes, /_sim admin routes, and the outer layer that stamps `x-request-id` on every
response and counts /v1 responses per key as "METHOD /route-template STATUS"."""

import contextlib
import secrets

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Route

from . import admin, api
from .errors import ApiError
from .sim import Simulator


class Stamp:
    """Outermost ASGI layer. Counting happens when the response starts, before the client can read it, so a
    test that reads the counters right after an answer always sees that answer counted."""

    def __init__(self, app, sim):
        self.app = app
        self.sim = sim

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = "req_" + secrets.token_hex(16)
        scope["sorasim.request_id"] = request_id

        async def stamped(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                route, key = scope.get("sorasim.route"), scope.get("sorasim.key")
                if route and key:
                    self.sim.counters[key].requests[f"{route} {message['status']}"] += 1
            await send(message)

        await self.app(scope, receive, stamped)


async def http_error(request, exc):
    message = exc.detail if exc.status_code != 404 else f"Invalid URL ({request.method} {request.url.path})"
    return ApiError(exc.status_code, message).response()


def create_app(config):
    sim = Simulator(config)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await sim.start()
        try:
            yield
        finally:
            await sim.stop()

    routes = [
        route
        for prefix in ("/v1", "/openai/v1")  # the second is Azure's base path (azure dialect only)
        for route in (
            Route(f"{prefix}/videos", api.create_video, methods=["POST"]),
            Route(f"{prefix}/videos", api.list_videos, methods=["GET"]),
            Route(f"{prefix}/videos/{{video_id}}", api.retrieve_video, methods=["GET"]),
            Route(f"{prefix}/videos/{{video_id}}", api.delete_video, methods=["DELETE"]),
            Route(f"{prefix}/videos/{{video_id}}/content", api.download_content, methods=["GET"]),
            Route(f"{prefix}/videos/{{video_id}}/remix", api.remix_video, methods=["POST"]),
        )
    ]
    routes += [
        Route("/_cdn/{token}", api.signed_content, methods=["GET"]),
        Route("/_sim/health", admin.health, methods=["GET"]),
        Route("/_sim/keys", admin.list_keys, methods=["GET"]),
        Route("/_sim/keys/{key}", admin.show_key, methods=["GET"]),
        Route("/_sim/keys/{key}", admin.put_key, methods=["PUT"]),
        Route("/_sim/keys/{key}", admin.delete_key, methods=["DELETE"]),
        Route("/_sim/keys/{key}/top-up", admin.top_up, methods=["POST"]),
        Route("/_sim/faults", admin.get_faults, methods=["GET"]),
        Route("/_sim/faults", admin.patch_faults, methods=["PATCH"]),
        Route("/_sim/reset-faults", admin.reset_faults, methods=["POST"]),
        Route("/_sim/counters", admin.get_counters, methods=["GET"]),
        Route("/_sim/reset-counters", admin.reset_counters, methods=["POST"]),
        Route("/_sim/reset", admin.reset_all, methods=["POST"]),
        Route("/_sim/videos", admin.list_jobs, methods=["GET"]),
        Route("/_sim/videos/{video_id}", admin.show_job, methods=["GET"]),
        Route("/_sim/videos/{video_id}/reference", admin.show_job_reference, methods=["GET"]),
        Route("/_sim/videos/{video_id}/expire", admin.expire_job, methods=["POST"]),
        Route("/_sim/videos/{video_id}/advance", admin.advance_job, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    app.state.sim = sim
    return Stamp(app, sim)
