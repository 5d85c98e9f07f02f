"""How the mock's API answers look on the wire: JSON with the headers every Brightpearl response carries."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

JSON_TYPE = "application/json;charset=UTF-8"
STATIC_HEADERS = {
    "cache-control": "no-cache, must-revalidate",
    "expires": "Mon, 20 Dec 1998 01:00:00 GMT",
    "pragma": "no-cache",
    "strict-transport-security": "max-age=15724800",
}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """`body` as JSON (bytes are sent as they are: records are stored ready-made)."""
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(content, status_code=status, headers={**STATIC_HEADERS, **(headers or {})}, media_type=JSON_TYPE)
