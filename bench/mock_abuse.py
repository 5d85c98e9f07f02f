"""How the mock holds up under abuse (issue 16): an oversized ID set, and a webhook receiver that hangs.

Prints, against a running mock over real sockets:
- the time an ID-set GET of a 2 KB URL repeating `1-499999` 200 times takes to answer its 400
  (median and worst of `--repeats`), and the worst time a plain search took while such GETs kept coming;
- how long a healthy webhook receiver waited for its call while another subscriber's receiver
  accepted the connection and never answered.

    python bench/mock_abuse.py [--repeats 50]
"""

from __future__ import annotations

import argparse
import http.client
import socket
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from mock_server.testing import MockServer

HUGE_ID_SET = ",".join(["1-499999"] * 200)


def _timed_get(connection: http.client.HTTPConnection, path: str, headers: dict) -> tuple[int, float]:
    started = time.perf_counter()
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    return response.status, (time.perf_counter() - started) * 1000


def id_set_bound(mock: MockServer, repeats: int) -> None:
    prefix = f"/public-api/{mock.account}/"
    path = f"{prefix}order-service/order/{HUGE_ID_SET}"
    headers = mock.auth_headers()
    hammering = threading.Event()
    hammering.set()

    def hammer() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=60)
        while hammering.is_set():
            _timed_get(connection, path, headers)

    threads = [threading.Thread(target=hammer, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    probe = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=60)
    refusals, searches = [], []
    for _ in range(repeats):
        status, elapsed = _timed_get(probe, path, headers)
        assert status == 400, status
        refusals.append(elapsed)
        status, elapsed = _timed_get(probe, f"{prefix}order-service/order-search?pageSize=20", headers)
        assert status == 200, status
        searches.append(elapsed)
    hammering.clear()
    for thread in threads:
        thread.join(timeout=60)
    print(
        f"ID set of {len(path)} bytes (1-499999 x 200): 400 in median {statistics.median(refusals):.1f} ms, "
        f"worst {max(refusals):.1f} ms over {repeats} (goal < 100 ms)"
    )
    print(
        f"search beside two clients sending it nonstop: median {statistics.median(searches):.1f} ms, "
        f"worst {max(searches):.1f} ms"
    )


class _Healthy(BaseHTTPRequestHandler):
    arrived: list[float] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        _Healthy.arrived.append(time.monotonic())
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def webhook_isolation(mock: MockServer) -> None:
    healthy = ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    threading.Thread(target=healthy.serve_forever, args=(0.05,), daemon=True).start()
    hanging = socket.create_server(("127.0.0.1", 0))  # listens; the connection is taken and never answered
    held = []
    threading.Thread(target=lambda: held.append(hanging.accept()), daemon=True).start()
    api = mock.session
    headers = mock.auth_headers()
    for url in (f"http://127.0.0.1:{hanging.getsockname()[1]}/hook", f"http://127.0.0.1:{healthy.server_port}/hook"):
        response = api.post(
            mock.api_url("integration-service/webhook"),
            headers=headers,
            timeout=30,
            json={
                "subscribeTo": "order.modified",
                "httpMethod": "POST",
                "uriTemplate": url,
                "qualityOfService": 0,
                "bodyTemplate": '{"id":"${resource-id}"}',
                "contentType": "application/json",
            },
        )
        assert response.status_code == 200, response.text
    raised = time.monotonic()
    mock.mutate(resource="order", action="update", id=100001, changes={"reference": "BENCH"})
    while not _Healthy.arrived and time.monotonic() - raised < 30:
        time.sleep(0.005)
    print(
        f"webhook: healthy receiver served {(_Healthy.arrived[0] - raised) * 1000:.0f} ms after the change, "
        f"beside a receiver that never answers (its attempt is cut at the mock's answer deadline)"
    )
    healthy.shutdown()
    hanging.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--orders", type=int, default=2000)
    args = parser.parse_args()
    with MockServer(orders=args.orders, rate_limit=0) as mock:
        id_set_bound(mock, args.repeats)
        webhook_isolation(mock)


if __name__ == "__main__":
    main()
