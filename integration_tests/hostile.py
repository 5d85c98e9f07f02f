"""A hostile Brightpearl for tests: a loopback reverse proxy in front of the mock that misbehaves on cue.

The mock injects the faults Brightpearl itself is known to make (throttling, 5xx, resets). This proxy makes
the ones the path to it can make, or a broken or malicious server: it stalls, trickles, redirects, mangles
bodies and headers, and inflates. Tests point the connector's `api_domain` (or `oauth_host`) at it:

    with MockServer(orders=250) as mock, HostileServer(mock.base_url) as proxy:
        proxy.add(Rule(path="order-service/order/", behaviour=stall(seconds=30)))
        run = read(tmp_path, {**account_token_config(mock), "api_domain": proxy.base_url})

Every request is recorded in `proxy.seen`. A rule matches requests whose path and query contain `path`; its
first `after` matches pass through, the next `count` (None: all) get its behaviour. `RecordingServer` is a
second host (127.0.0.2) to redirect to, which records what reaches it.
"""

from __future__ import annotations

import gzip
import http.client
import io
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

# Hop-by-hop and framing headers: the proxy frames every answer itself.
_NOT_FORWARDED = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
    "host",
    "accept-encoding",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
}
# No stall or trickle outlives this, whatever a test asks, so a broken test cannot hang the suite.
MAX_MISBEHAVIOUR_SECONDS = 120.0


@dataclass
class Seen:
    """A request as it reached a server: method, path with query, headers (names lower-cased)."""

    method: str
    path_qs: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Upstream:
    """The mock's answer to a forwarded request."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Exchange:
    """One request on its way through the proxy: what a behaviour reads, forwards and answers."""

    def __init__(self, handler: _ProxyHandler, seen: Seen):
        self._handler = handler
        self.seen = seen
        self.stopping: threading.Event = handler.server.stopping  # type: ignore[attr-defined]

    def forward(self) -> Upstream:
        """Sends the request on to the mock, as received (less hop-by-hop headers), and returns its answer."""
        upstream = urlsplit(self._handler.server.upstream)  # type: ignore[attr-defined]
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
        try:
            headers = {name: value for name, value in self.seen.headers.items() if name not in _NOT_FORWARDED}
            connection.request(self.seen.method, self.seen.path_qs, body=self.seen.body or None, headers=headers)
            answer = connection.getresponse()
            return Upstream(answer.status, answer.getheaders(), answer.read())
        finally:
            connection.close()

    def send(
        self,
        status: int,
        body: bytes = b"",
        headers: list[tuple[str, str]] | None = None,
        content_length: int | None = None,
    ) -> None:
        """Answers with `status`, `headers` (framing ones replaced) and `body`, declaring `content_length`
        (default: the body's length) so a body cut short looks like one."""
        self.send_head(status, headers, len(body) if content_length is None else content_length)
        self.write(body)

    def send_head(self, status: int, headers: list[tuple[str, str]] | None, content_length: int) -> None:
        handler = self._handler
        handler.send_response_only(status)
        for name, value in headers or []:
            if name.lower() not in _NOT_FORWARDED:
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(content_length))
        handler.end_headers()
        handler.wfile.flush()

    def write(self, data: bytes) -> None:
        self._handler.wfile.write(data)
        self._handler.wfile.flush()

    def wait(self, seconds: float) -> None:
        """Sleeps `seconds` (at most MAX_MISBEHAVIOUR_SECONDS), cut short when the proxy stops."""
        self.stopping.wait(min(seconds, MAX_MISBEHAVIOUR_SECONDS))

    def hang_up(self) -> None:
        self._handler.close_connection = True


Behaviour = Callable[[Exchange], None]


@dataclass
class Rule:
    path: str
    behaviour: Behaviour
    method: str = "GET"
    count: int | None = 1
    after: int = 0
    matched: int = 0
    fired: int = 0

    def takes(self, seen: Seen) -> bool:
        """Whether this request gets the behaviour (and counts it)."""
        if seen.method != self.method or self.path not in seen.path_qs:
            return False
        self.matched += 1
        if self.matched <= self.after or (self.count is not None and self.fired >= self.count):
            return False
        self.fired += 1
        return True


class _RecordingHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]):
        super().__init__(address, handler)
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass

    def _record(self) -> Seen:
        length = int(self.headers.get("Content-Length") or 0)
        seen = Seen(
            self.command,
            self.path,
            {name.lower(): value for name, value in self.headers.items()},
            self.rfile.read(length) if length else b"",
        )
        with self.server.lock:  # type: ignore[attr-defined]
            self.server.seen.append(seen)  # type: ignore[attr-defined]
        return seen

    def do_GET(self) -> None:
        self.handle_request(self._record())

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def handle_request(self, seen: Seen) -> None:
        raise NotImplementedError


class _ProxyHandler(_Handler):
    def handle_request(self, seen: Seen) -> None:
        exchange = Exchange(self, seen)
        with self.server.lock:  # type: ignore[attr-defined]
            rule = next((rule for rule in self.server.rules if rule.takes(seen)), None)  # type: ignore[attr-defined]
        (rule.behaviour if rule else passthrough)(exchange)


class _RecordingHandler(_Handler):
    def handle_request(self, seen: Seen) -> None:
        body = b"{}"
        self.send_response_only(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server:
    """A threaded loopback HTTP server run in the background for a `with` block."""

    host = "127.0.0.1"
    handler: type[BaseHTTPRequestHandler] = _Handler

    def __init__(self) -> None:
        self._server = _RecordingHTTPServer((self.host, 0), self.handler)
        self.base_url = f"http://{self.host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def seen(self) -> list[Seen]:
        with self._server.lock:
            return list(self._server.seen)

    def __enter__(self) -> _Server:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()


class HostileServer(_Server):
    """The proxy: forwards to `upstream` (the mock's base URL) except where a rule says otherwise."""

    handler = _ProxyHandler

    def __init__(self, upstream: str):
        super().__init__()
        self._server.upstream = upstream  # type: ignore[attr-defined]
        self._server.rules = []  # type: ignore[attr-defined]

    def add(self, *rules: Rule) -> None:
        with self._server.lock:
            self._server.rules.extend(rules)  # type: ignore[attr-defined]

    def clear(self) -> None:
        with self._server.lock:
            self._server.rules.clear()  # type: ignore[attr-defined]

    def fired(self, rule: Rule) -> int:
        with self._server.lock:
            return rule.fired

    def __enter__(self) -> HostileServer:
        super().__enter__()
        return self


class RecordingServer(_Server):
    """Another host (127.0.0.2): answers 200 `{}` to anything and records every request with its headers."""

    host = "127.0.0.2"
    handler = _RecordingHandler

    def __enter__(self) -> RecordingServer:
        super().__enter__()
        return self


# ---------------------------------------------------------------- behaviours


def passthrough(exchange: Exchange) -> None:
    upstream = exchange.forward()
    exchange.send(upstream.status, upstream.body, upstream.headers)


def stall(seconds: float) -> Behaviour:
    """Reads the request, answers nothing for `seconds`, then hangs up."""

    def behave(exchange: Exchange) -> None:
        exchange.wait(seconds)
        exchange.hang_up()

    return behave


def stall_mid_body(seconds: float) -> Behaviour:
    """Forwards, sends the headers and half the body, stalls `seconds`, then hangs up."""

    def behave(exchange: Exchange) -> None:
        upstream = exchange.forward()
        exchange.send_head(upstream.status, upstream.headers, len(upstream.body))
        exchange.write(upstream.body[: len(upstream.body) // 2])
        exchange.wait(seconds)
        exchange.hang_up()

    return behave


def trickle(seconds_per_byte: float, max_seconds: float) -> Behaviour:
    """Forwards, then sends the body a byte at a time, each well within any read timeout; hangs up after
    `max_seconds` if the body is not through by then."""

    def behave(exchange: Exchange) -> None:
        upstream = exchange.forward()
        exchange.send_head(upstream.status, upstream.headers, len(upstream.body))
        give_up_at = time.monotonic() + min(max_seconds, MAX_MISBEHAVIOUR_SECONDS)
        for index in range(len(upstream.body)):
            if time.monotonic() >= give_up_at or exchange.stopping.is_set():
                break
            try:
                exchange.write(upstream.body[index : index + 1])
            except OSError:  # the client gave up
                break
            exchange.wait(seconds_per_byte)
        exchange.hang_up()

    return behave


def redirect(status: int, location: str) -> Behaviour:
    def behave(exchange: Exchange) -> None:
        exchange.send(status, b"", [("Location", location)])

    return behave


def respond(status: int, body: bytes | str | dict | list, headers: dict[str, str] | None = None) -> Behaviour:
    """A canned answer; a dict or list is sent as JSON."""
    if isinstance(body, (dict, list)):
        payload, content_type = json.dumps(body).encode(), "application/json"
    else:
        payload = body.encode() if isinstance(body, str) else body
        content_type = "text/html; charset=utf-8"
    answer_headers = {"Content-Type": content_type, **(headers or {})}

    def behave(exchange: Exchange) -> None:
        exchange.send(status, payload, list(answer_headers.items()))

    return behave


def rewrite_json(transform: Callable[[Any], Any]) -> Behaviour:
    """Forwards and sends `transform(the mock's JSON body)` instead: any JSON value, or bytes sent as they are."""

    def behave(exchange: Exchange) -> None:
        upstream = exchange.forward()
        rewritten = transform(upstream.json())
        body = rewritten if isinstance(rewritten, bytes) else json.dumps(rewritten).encode()
        exchange.send(upstream.status, body, upstream.headers)

    return behave


def with_headers(headers: dict[str, str] | None = None, status: int | None = None, **more: str) -> Behaviour:
    """Forwards, with response headers added or replaced (and the status, if given)."""
    replaced = {**(headers or {}), **more}
    lowered = {name.lower() for name in replaced}

    def behave(exchange: Exchange) -> None:
        upstream = exchange.forward()
        kept = [(name, value) for name, value in upstream.headers if name.lower() not in lowered]
        exchange.send(status or upstream.status, upstream.body, kept + list(replaced.items()))

    return behave


_BOMBS: dict[int, bytes] = {}


def gzip_bomb(expanded_bytes: int) -> Behaviour:
    """A 200 JSON answer, `Content-Encoding: gzip`, whose body inflates to `expanded_bytes` (of spaces)."""
    if expanded_bytes not in _BOMBS:
        buffer, chunk = io.BytesIO(), b" " * (1 << 20)
        with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as compressed:
            compressed.write(b'{"response": [')
            for _ in range(expanded_bytes // len(chunk)):
                compressed.write(chunk)
            compressed.write(b"]}")
        _BOMBS[expanded_bytes] = buffer.getvalue()
    body = _BOMBS[expanded_bytes]

    def behave(exchange: Exchange) -> None:
        handler = exchange._handler
        handler.send_response_only(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        try:
            exchange.write(body)
        except OSError:  # the client stopped reading, as it should
            exchange.hang_up()

    return behave


def before(side_effect: Callable[[Seen], Any]) -> Behaviour:
    """Runs `side_effect(the request)` (a mock mutation, say), then forwards."""

    def behave(exchange: Exchange) -> None:
        side_effect(exchange.seen)
        passthrough(exchange)

    return behave
