"""Brightpearl's error bodies, raised as exceptions and rendered by the app.

Two body families exist for real: `{"errors": [{"code", "message"}]}` from the services and a bare
`{"response": "<text>"}` from the API proxy (auth failures, throttling).
"""

from __future__ import annotations


class ApiError(Exception):
    """An error answered with the services' `errors` envelope."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict:
        return {"errors": [{"code": self.code, "message": self.message}]}


class ProxyError(Exception):
    """An error answered by the API proxy with a bare `response` string."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict:
        return {"response": self.message}


NOT_AUTHENTICATED = "Not authenticated. You must provide a valid authentication token."
TOKEN_EXPIRED = "Authorization token expired"
TOO_MANY_REQUESTS = "You have sent too many requests. Please wait before sending another request"


def not_found(message: str) -> ApiError:
    return ApiError(404, "CMNC-404", message)


def unknown_uri(path: str) -> ApiError:
    return not_found(f"Cannot find the resource {path}")


def unparseable_filter(name: str, value: str, data_type: str) -> ApiError:
    return ApiError(500, "CMNC-018", f"The filter {name}={value} cannot be parsed as: {data_type}")


def bad_request(message: str) -> ApiError:
    # The real service's code for these validation failures is not on record; CMNC-400 keeps the shape.
    return ApiError(400, "CMNC-400", message)
