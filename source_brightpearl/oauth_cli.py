"""`source-brightpearl oauth`: connect an OAuth instance app from the command line.

Opens Brightpearl's authorize page for the account, waits on a loopback listener for the redirect
that carries the authorization code, exchanges the code at the token endpoint and writes the
connector config with the tokens, readable by its owner only. Token values are never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import threading
import webbrowser
from collections.abc import Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_brightpearl.components import (
    DEFAULT_OAUTH_HOST,
    TokenAnswer,
    base_url,
    base_url_problem,
    post_token_request,
    without_password,
)

DEFAULT_REDIRECT_URI = "http://127.0.0.1:8976/callback"
CLIENT_SECRET_ENV = "BRIGHTPEARL_CLIENT_SECRET"
TOKEN_FIELDS = ("access_token", "refresh_token", "token_expiry_date")


class OAuthCliError(Exception):
    """A failure the user can act on; its message is printed without a traceback."""


def authorize_url(oauth_host: str, account_code: str, client_id: str, redirect_uri: str, state: str) -> str:
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "state": state})
    return f"{base_url(oauth_host)}/authorize/{account_code}?{query}"


def token_url(oauth_host: str, account_code: str) -> str:
    return f"{base_url(oauth_host)}/token/{account_code}"


class _Redirect:
    """The one redirect the loopback listener waits for."""

    def __init__(self) -> None:
        self.query: dict[str, str] = {}
        self.arrived = threading.Event()


def _listener(redirect_uri: str, redirect: _Redirect) -> HTTPServer:
    parts = urlsplit(redirect_uri)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost", "::1") or not parts.port:
        raise OAuthCliError(
            f"--redirect-uri {redirect_uri} must be a loopback http URL with a port, like {DEFAULT_REDIRECT_URI} "
            "(the same URL as registered for the app in Brightpearl's developer portal)."
        )
    path = parts.path or "/"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            request = urlsplit(self.path)
            if request.path != path or redirect.arrived.is_set():
                self.send_error(404)
                return
            redirect.query = {key: values[0] for key, values in parse_qs(request.query).items()}
            ok = "code" in redirect.query
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            message = (
                "Brightpearl connected. You can close this tab and return to the terminal."
                if ok
                else "Brightpearl did not authorize the app. See the terminal for details."
            )
            self.wfile.write(f"<!doctype html><title>source-brightpearl</title><p id='result'>{message}</p>".encode())
            redirect.arrived.set()

        def log_message(self, format: str, *args: Any) -> None:
            # The default logs the request line, which carries the authorization code.
            pass

    try:
        return HTTPServer((parts.hostname, parts.port), Handler)
    except OSError as error:
        raise OAuthCliError(
            f"Cannot listen on {parts.hostname}:{parts.port} for the redirect: {error.strerror}. "
            "Free the port or pass another --redirect-uri registered for the app."
        ) from None


def exchange_code(oauth_host: str, account_code: str, form: Mapping[str, str]) -> TokenAnswer:
    url = token_url(oauth_host, account_code)
    try:
        status, body = post_token_request(url, form)
        tokens = TokenAnswer.from_body(body, url) if status == 200 else None
    except AirbyteTracedException as error:
        raise OAuthCliError(error.message) from None
    if tokens is None:
        fields = {
            name: value[:200]
            for name, value in (body.items() if isinstance(body, Mapping) else [])
            if isinstance(value, str) and value
        }
        error = fields.get("error") or f"HTTP {status}"
        hint = {
            "invalid_client": "Check the app reference (--client-id) and, for a confidential app, "
            f"the secret in ${CLIENT_SECRET_ENV}.",
            "invalid_grant": "The code expired or the redirect URI differs from the app's; run the command again.",
        }.get(error, "")
        description = fields.get("error_description", "")
        raise OAuthCliError(
            f"Brightpearl refused the code exchange: {error}"
            f"{' (' + description + ')' if description else ''}. {hint}".strip()
        )
    if tokens.refresh_token is None:
        raise OAuthCliError(
            f"The OAuth token endpoint {url} answered without a refresh token, so nothing was "
            "saved; run the command again."
        )
    if tokens.api_domain and base_url_problem(tokens.api_domain):
        raise OAuthCliError(
            f"The OAuth token endpoint {url} answered an api_domain that "
            f"{base_url_problem(tokens.api_domain)} Nothing was saved."
        )
    return tokens


def credentials_from(
    tokens: TokenAnswer, args: argparse.Namespace, client_secret: str | None, now: datetime
) -> dict[str, Any]:
    credentials: dict[str, Any] = {"auth_type": "oauth", "client_id": args.client_id, "dev_ref": args.dev_ref}
    if client_secret:
        credentials["client_secret"] = client_secret
    credentials["access_token"] = tokens.access_token
    credentials["refresh_token"] = tokens.refresh_token
    # Without a lifetime the expiry is left empty, so the first sync refreshes the token.
    credentials["token_expiry_date"] = (now + tokens.lifetime).isoformat() if tokens.lifetime else ""
    if tokens.api_domain:
        credentials["api_domain"] = tokens.api_domain
    if args.oauth_host != DEFAULT_OAUTH_HOST:
        credentials["oauth_host"] = args.oauth_host
    return credentials


def write_config_atomically(path: Path, config: Mapping[str, Any]) -> None:
    """Replaces `path` in one step with an owner-only (0600) file, so a reader never sees half a
    config and a crash never loses the refresh token. A symlink stays one: its target is replaced."""
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w") as handle:  # mkstemp creates the file with mode 0600
            json.dump(config, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_rotated_tokens(path: Path, rotated_config: Mapping[str, Any]) -> None:
    """Copies the token fields of a CONNECTOR_CONFIG control message into the config file, leaving
    everything else in the file as its owner wrote it."""
    config = json.loads(path.read_text())
    if not isinstance(config, dict) or not isinstance(config.setdefault("credentials", {}), dict):
        raise ValueError(f"{path} holds no config object")
    rotated = rotated_config.get("credentials") or {}
    config["credentials"].update({key: rotated[key] for key in TOKEN_FIELDS if key in rotated})
    write_config_atomically(path, config)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="source-brightpearl oauth",
        description="Connect a Brightpearl OAuth instance app and write the connector config (mode 0600). "
        f"A confidential app's secret is read from ${CLIENT_SECRET_ENV}.",
    )
    parser.add_argument("--account-code", required=True, help="the Brightpearl account, e.g. acme")
    parser.add_argument("--client-id", required=True, help="the instance app's reference")
    parser.add_argument("--dev-ref", required=True, help="your developer account reference")
    parser.add_argument(
        "--config",
        default="secrets/config.json",
        type=Path,
        help="config file to write; an existing one keeps its other settings (default: %(default)s)",
    )
    parser.add_argument(
        "--redirect-uri",
        default=DEFAULT_REDIRECT_URI,
        help="loopback URL registered as the app's redirect URI (default: %(default)s)",
    )
    parser.add_argument(
        "--oauth-host",
        default=DEFAULT_OAUTH_HOST,
        help="OAuth server, e.g. oauth.brightpearlapp.com or a mock's http://127.0.0.1:8787 (default: %(default)s)",
    )
    parser.add_argument("--no-browser", action="store_true", help="only print the URL to open")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for the approval")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except OAuthCliError as error:
        print(f"source-brightpearl oauth: {error}", file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace) -> None:
    host_problem = base_url_problem(args.oauth_host.strip())
    if host_problem:
        raise OAuthCliError(f"--oauth-host '{without_password(args.oauth_host.strip())}' {host_problem}")
    client_secret = os.environ.get(CLIENT_SECRET_ENV) or None
    state = secrets.token_urlsafe(24)
    redirect = _Redirect()
    server = _listener(args.redirect_uri, redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = authorize_url(args.oauth_host, args.account_code, args.client_id, args.redirect_uri, state)
        print(f"Approve the app in your browser:\n  {url}", flush=True)
        if not args.no_browser:
            webbrowser.open(url)
        if not redirect.arrived.wait(args.timeout):
            raise OAuthCliError(f"No approval arrived within {args.timeout:.0f} s; run the command again.")
    finally:
        server.shutdown()
        server.server_close()
    query = redirect.query
    if query.get("state") != state:
        raise OAuthCliError(
            "The redirect's state does not match this request (a stale or forged redirect); run the command again."
        )
    if "code" not in query:
        raise OAuthCliError(f"Brightpearl did not authorize the app: {query.get('error', 'no code in the redirect')}.")
    form = {
        "grant_type": "authorization_code",
        "code": query["code"],
        "client_id": args.client_id,
        "redirect_uri": args.redirect_uri,
        **({"client_secret": client_secret} if client_secret else {}),
    }
    tokens = exchange_code(args.oauth_host, args.account_code, form)
    config_path: Path = args.config
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    config["account_code"] = args.account_code
    config["credentials"] = credentials_from(tokens, args, client_secret, datetime.now(UTC))
    write_config_atomically(config_path, config)
    print(
        f"Wrote {config_path} (mode 0600) for account {args.account_code}; "
        f"API domain {tokens.api_domain or 'not given'}; the access token is valid until "
        f"{config['credentials']['token_expiry_date'] or 'unknown'}.",
        flush=True,
    )
