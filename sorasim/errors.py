"""The provider's error envelope: `{"error": {"message", "type", "param", "code"}}` on every non-2xx answer."""

from starlette.responses import JSONResponse


class ApiError(Exception):
    def __init__(
        self,
        status,
        message,
        *,
        type="invalid_request_error",
        param=None,
        code=None,
        headers=None,
        kind=None,
        extra=None,
    ):
        super().__init__(message)
        self.kind = kind  # "auth", "rate_limit", "no_route", "not_found": shaped per dialect
        self.extra = extra or {}  # more fields inside "error" (Azure's innererror, misalignment)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def response(self):
        body = {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}
        body["error"].update(self.extra)
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def bad_request(message, param=None, code=None):
    return ApiError(400, message, param=param, code=code)


def not_found(message, param=None, code=None):
    return ApiError(404, message, param=param, code=code, kind="not_found" if code is None else None)
