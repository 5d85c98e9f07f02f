"""Brightpearl's OAuth 2.0 authorization-code flow for instance apps: the authorize page and the token endpoint.

- `GET /authorize/{account}?response_type=code&client_id=…&redirect_uri=…&state=…`: the page where a
  user approves the app; it redirects to `redirect_uri` with `code` and `state` after a click on
  Approve, or at once when the mock runs with `--oauth-auto-approve`.
- The token endpoint at all three recorded URLs: `POST /token/{account}` (oauth.brightpearl.com and
  oauth.brightpearlapp.com), `POST /{account}/oauth/token` and `POST /oauth/token` with `account_code`
  in the body ({dc}.brightpearlconnect.com). Form-encoded `authorization_code` and `refresh_token`
  grants; snake_case JSON answers; the real `invalid_client` / `invalid_grant` bodies.

Issued tokens live in `Credentials` (state.py), so the API accepts them until they expire on the
mock's clock. Each refresh token is single-use: a refresh answers a new one and retires the old.
"""

from __future__ import annotations

import html
import secrets
import sys
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .replies import JSON_TYPE
from .state import MockState

ACCESS_TOKEN_SECONDS = 604800  # 7 days, on the code grant and on refresh
CODE_SECONDS = 600
INSTALLATION_INSTANCE_ID = "27"
TOKEN_TYPE = "Bearer"
FORM_TYPE = "application/x-www-form-urlencoded"

UNKNOWN_TOKEN = "The auth token has either expired or does not exist"
REDIRECT_MISMATCH = "Redirect uri does not match that used to request auth token"


@dataclass
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    expires_at: float


class OAuthError(Exception):
    """An error the token endpoint answers as HTTP 400 `{"error": …, "error_description": …}`."""

    def __init__(self, error: str, description: str | None = None):
        super().__init__(error)
        self.error, self.description = error, description

    def body(self) -> dict[str, str]:
        return {"error": self.error, **({"error_description": self.description} if self.description else {})}


def oauth_routes(state: MockState) -> list[Route]:
    codes: dict[str, AuthorizationCode] = {}
    credentials = state.credentials

    def authorize_error(status: int, text: str) -> Response:
        # Never redirects: per RFC 6749 §4.1.2.1 an unverified client or redirect URI gets an error page.
        return _page("Cannot authorize", f"<p id='error'>{html.escape(text)}</p>", status)

    def checked_request(account: str, params: dict[str, str]) -> Response | None:
        if account != credentials.account:
            return authorize_error(404, f"Cannot find the account: {account}")
        if params.get("client_id") != credentials.app_ref:
            return authorize_error(400, f"No app '{params.get('client_id', '')}' is installed on account {account}.")
        redirect_uri = params.get("redirect_uri", "")
        if urlsplit(redirect_uri).scheme not in ("http", "https"):
            return authorize_error(400, "redirect_uri must be an absolute http(s) URL.")
        return None

    def redirect_with(params: dict[str, str], **answer: str) -> Response:
        if params.get("state") is not None:
            answer["state"] = params["state"]
        separator = "&" if "?" in params["redirect_uri"] else "?"
        return RedirectResponse(f"{params['redirect_uri']}{separator}{urlencode(answer)}", status_code=302)

    def approve(params: dict[str, str]) -> Response:
        if params.get("response_type") != "code":
            return redirect_with(params, error="unsupported_response_type")
        code = secrets.token_urlsafe(24)
        codes[code] = AuthorizationCode(params["client_id"], params["redirect_uri"], state.clock.now() + CODE_SECONDS)
        return redirect_with(params, code=code)

    async def authorize(request: Request) -> Response:
        account = request.path_params["account"]
        if request.method == "POST":
            params = await _form(request)
        else:
            params = dict(request.query_params)
        problem = checked_request(account, params)
        if problem is not None:
            return _recorded(state, request, "authorize", problem)
        if request.method == "POST":
            decision = params.pop("decision", "")
            answer = approve(params) if decision == "approve" else redirect_with(params, error="access_denied")
        elif state.oauth_auto_approve:
            answer = approve(params)
        else:
            answer = _approval_page(account, params)
        return _recorded(state, request, "authorize", answer)

    async def token(request: Request) -> Response:
        form = await _form(request)
        account = request.path_params.get("account") or form.get("account_code", "")
        try:
            if not request.headers.get("content-type", "").startswith(FORM_TYPE):
                raise OAuthError("invalid_request", f"The token request must be {FORM_TYPE}")
            if account != credentials.account:
                raise OAuthError("invalid_request", f"Cannot find the account: {account}")
            body = exchange(form, _api_domain(request))
            response = _token_json(body, 200)
        except OAuthError as error:
            response = _token_json(error.body(), 400)
        return _recorded(state, request, "oauth/token", response)

    def exchange(form: dict[str, str], api_domain: str) -> dict:
        grant_type = form.get("grant_type")
        if grant_type not in ("authorization_code", "refresh_token"):
            raise OAuthError("unsupported_grant_type" if grant_type else "invalid_request")
        if form.get("client_id") != credentials.app_ref:
            raise OAuthError("invalid_client")
        if credentials.client_secret is not None and form.get("client_secret") != credentials.client_secret:
            raise OAuthError("invalid_client")
        now = state.clock.now()
        if grant_type == "authorization_code":
            grant = codes.pop(form.get("code", ""), None)
            if grant is None or grant.expires_at <= now or grant.client_id != form["client_id"]:
                raise OAuthError("invalid_grant", UNKNOWN_TOKEN)
            if grant.redirect_uri != form.get("redirect_uri"):
                raise OAuthError("invalid_grant", REDIRECT_MISMATCH)
            access_token, refresh_token = credentials.issue_token_pair(now, ACCESS_TOKEN_SECONDS)
            extra = {"installation_instance_id": INSTALLATION_INSTANCE_ID}
        else:
            pair = credentials.rotate_refresh_token(form.get("refresh_token", ""), now, ACCESS_TOKEN_SECONDS)
            if pair is None:
                raise OAuthError("invalid_grant", UNKNOWN_TOKEN)
            access_token, refresh_token = pair
            extra = {}  # the recorded refresh answer has no installation_instance_id
        return {
            "access_token": access_token,
            "refresh_token": refresh_token,
            **extra,
            "api_domain": api_domain,
            "token_type": TOKEN_TYPE,
            "expires_in": ACCESS_TOKEN_SECONDS,
        }

    return [
        Route("/authorize/{account}", authorize, methods=["GET", "POST"]),
        Route("/token/{account}", token, methods=["POST"]),
        Route("/oauth/token", token, methods=["POST"]),
        Route("/{account}/oauth/token", token, methods=["POST"]),
    ]


def _api_domain(request: Request) -> str:
    """Where the API is: the mock itself, as the host the client reached it by.

    Over https (`--tls`) a bare host as the real service answers (`use1.brightpearlconnect.com`):
    clients build `https://{api_domain}/public-api/...`. It keeps its port (`127.0.0.1:8787`): the
    mock cannot assume it owns port 443, and `host:port` is still a URL authority such clients
    join unchanged. Over plain http it is the whole base URL, `http://127.0.0.1:8787`: a bare host
    would send those clients to https, where nothing listens."""
    if request.url.scheme == "https":
        return request.url.netloc
    return str(request.base_url).rstrip("/")


async def _form(request: Request) -> dict[str, str]:
    """The form-encoded body (`+`, `/` and `=` in tokens arrive percent-encoded)."""
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))


def _token_json(body: dict, status: int) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type=JSON_TYPE,
        headers={"cache-control": "no-store", "pragma": "no-cache"},
    )


def _recorded(state: MockState, request: Request, route: str, response: Response) -> Response:
    state.stats.record(f"{request.method} {route}", response.status_code)
    if state.log_requests:
        # the path only: codes, tokens and secrets travel in the query, the form body and the redirect
        print(f"{request.method} {request.url.path} -> {response.status_code}", file=sys.stderr, flush=True)
    return response


def _approval_page(account: str, params: dict[str, str]) -> Response:
    hidden = "".join(
        f"<input type='hidden' name='{html.escape(name)}' value='{html.escape(params.get(name, ''))}'>"
        for name in ("response_type", "client_id", "redirect_uri", "state")
    )
    body = (
        f"<p>The app <strong id='app'>{html.escape(params['client_id'])}</strong> asks for access to the "
        f"Brightpearl account <strong id='account'>{html.escape(account)}</strong>.</p>"
        f"<form method='post' action='/authorize/{html.escape(account)}'>{hidden}"
        "<button type='submit' name='decision' value='approve' id='approve'>Approve</button> "
        "<button type='submit' name='decision' value='deny' id='deny'>Deny</button></form>"
    )
    return _page("Authorize app", body, 200)


def _page(title: str, body: str, status: int) -> Response:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><h1>{title}</h1>{body}</body></html>",
        status_code=status,
    )
