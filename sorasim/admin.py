"""The admin API under `/_sim/`: keys, faults and job timing, counters, and jobs (a look inside, expiry or a later
moment of their life on request). No auth: local use.

Errors use the same envelope as /v1. Documented in sorasim/README.md, which tests and benchmarks rely on.
"""

import json
import time

from starlette.responses import FileResponse, JSONResponse

from . import __version__
from .config import DIALECTS
from .errors import ApiError, bad_request, not_found
from .state import to_micros

KEY_FIELDS = ("credit_usd", "rpm", "webhook_urls", "webhook_secret", "valid", "dialect", "deploying_seconds")


def admin(handler):
    async def wrapper(request):
        try:
            return await handler(request, request.app.state.sim)
        except ApiError as exc:
            return exc.response()

    wrapper.__name__ = handler.__name__
    return wrapper


async def json_body(request):
    body = await request.body()
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        raise bad_request("The body must be JSON.") from None
    if not isinstance(data, dict):
        raise bad_request("The body must be a JSON object.")
    return data


def get_key(sim, name):
    state = sim.store.keys.get(name)
    if state is None:
        raise not_found(f"No key {name!r}.", param="key")
    return state


@admin
async def health(request, sim):
    return JSONResponse({"ok": True, "version": __version__, "media": sim.config.media, "loop_lag": sim.loop_lag()})


@admin
async def list_keys(request, sim):
    return JSONResponse({"data": [state.to_admin() for state in sim.store.keys.values()]})


@admin
async def show_key(request, sim):
    return JSONResponse(get_key(sim, request.path_params["key"]).to_admin())


def _check_key_fields(data):
    for name, value in data.items():
        if name not in KEY_FIELDS:
            raise bad_request(f"Unknown key field {name!r}; known: {', '.join(KEY_FIELDS)}.", param=name)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if name == "credit_usd" and value is not None and (not number or value < 0):
            raise bad_request("credit_usd must be a number >= 0, or null for unlimited.", param=name)
        if name == "rpm" and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise bad_request("rpm must be an integer >= 0 (0 = unlimited).", param=name)
        if name == "webhook_urls" and (
            not isinstance(value, list)
            or not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in value)
        ):
            raise bad_request("webhook_urls must be a list of http(s) URLs.", param=name)
        if name == "webhook_secret" and (not isinstance(value, str) or not value.startswith("whsec_")):
            raise bad_request("webhook_secret must look like whsec_<base64>.", param=name)
        if name == "valid" and not isinstance(value, bool):
            raise bad_request("valid must be true or false.", param=name)
        if name == "deploying_seconds" and (not number or value < 0):
            raise bad_request("deploying_seconds must be a number >= 0 (0: the deployment exists).", param=name)
        if name == "dialect" and value is not None and value not in DIALECTS:
            raise bad_request(f"dialect must be one of {', '.join(DIALECTS)}, or null for the server's.", param=name)


@admin
async def put_key(request, sim):
    """Create the key (with the command line's defaults) or update it; only the fields given change."""
    name = request.path_params["key"]
    data = await json_body(request)
    _check_key_fields(data)
    state = sim.store.keys.get(name)
    created = state is None
    if created:
        state = sim.store.keys[name] = sim.new_key(name)
    if "credit_usd" in data:
        state.credit_micros = to_micros(data["credit_usd"])
    if "rpm" in data:
        state.rpm = data["rpm"]
    if "webhook_urls" in data:
        state.webhook_urls = list(data["webhook_urls"])
    if "webhook_secret" in data:
        state.webhook_secret = data["webhook_secret"]
    if "valid" in data:
        state.valid = data["valid"]
    if "dialect" in data:
        state.dialect = data["dialect"]
    if "deploying_seconds" in data:
        state.deployed_at = time.time() + data["deploying_seconds"] if data["deploying_seconds"] else None
    sim.store.save_keys()
    return JSONResponse(state.to_admin(), status_code=201 if created else 200)


@admin
async def delete_key(request, sim):
    get_key(sim, request.path_params["key"])
    del sim.store.keys[request.path_params["key"]]
    sim.store.save_keys()
    return JSONResponse({"key": request.path_params["key"], "deleted": True})


@admin
async def top_up(request, sim):
    state = get_key(sim, request.path_params["key"])
    amount = (await json_body(request)).get("usd")
    if not isinstance(amount, int | float) or isinstance(amount, bool) or amount <= 0:
        raise bad_request("usd must be a number > 0.", param="usd")
    if state.credit_micros is not None:  # an unlimited key stays unlimited
        state.credit_micros += to_micros(amount)
        sim.store.save_keys()
    return JSONResponse(state.to_admin())


@admin
async def get_faults(request, sim):
    return JSONResponse(sim.faults.to_dict())


@admin
async def patch_faults(request, sim):
    try:
        sim.faults.update(await json_body(request))
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    return JSONResponse(sim.faults.to_dict())


@admin
async def reset_faults(request, sim):
    sim.faults.update(sim.initial_faults.to_dict())
    return JSONResponse(sim.faults.to_dict())


@admin
async def get_counters(request, sim):
    return JSONResponse(sim.counters.to_dict(request.query_params.get("key")))


@admin
async def reset_counters(request, sim):
    sim.counters.reset(request.query_params.get("key"))
    return JSONResponse({"reset": True})


@admin
async def reset_all(request, sim):
    sim.reset()
    return JSONResponse({"reset": True})


@admin
async def list_jobs(request, sim):
    key = request.query_params.get("key")
    jobs = [j.to_admin() for j in sim.store.jobs.values() if key is None or j.key == key]
    return JSONResponse({"data": jobs})


def get_job(sim, video_id):
    job = sim.store.jobs.get(video_id)
    if job is None:
        raise not_found(f"Video with id '{video_id}' not found.", param="video_id")
    return job


@admin
async def show_job(request, sim):
    return JSONResponse(get_job(sim, request.path_params["video_id"]).to_admin())


@admin
async def show_job_reference(request, sim):
    """The reference image exactly as the create sent it (tests check what reached the provider)."""
    job = get_job(sim, request.path_params["video_id"])
    path = sim.store.media_dir(job.id) / job.reference if job.reference else None
    if path is None or not path.is_file():
        raise not_found(f"Video '{job.id}' has no reference image.", param="video_id")
    return FileResponse(path)


@admin
async def expire_job(request, sim):
    job = get_job(sim, request.path_params["video_id"])
    if job.status != "completed":
        raise bad_request(f"Video '{job.id}' is {job.view()[0]}: only a completed video can expire.")
    sim.expire_now(job)
    return JSONResponse(job.to_admin())


@admin
async def advance_job(request, sim):
    job = get_job(sim, request.path_params["video_id"])
    seconds = (await json_body(request)).get("seconds")
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0:
        raise bad_request("seconds must be a whole number > 0.", param="seconds")
    sim.advance(job, seconds)
    return JSONResponse(job.to_admin())
