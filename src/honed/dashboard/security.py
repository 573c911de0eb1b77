"""Who may read the dashboard and how its few writes are protected.

- A token (``--token`` or HONED_DASHBOARD_TOKEN), when set, is needed by every request: as
  ``Authorization: Bearer TOKEN``, or once as ``?token=TOKEN`` (which sets an HttpOnly,
  SameSite=Strict cookie and redirects to the same page without it). Without a token the
  server only binds a loopback address (the CLI refuses anything else).
- Writes (tags, arena votes) are form POSTs that must carry the CSRF token of the page that
  showed the form (double submit: the cookie and the field must match) and, where the browser
  sends one, an Origin of this same host.
- Every page is sent with a Content-Security-Policy that runs only this server's scripts.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import HTTPException, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

TOKEN_COOKIE = "honed_token"
CSRF_COOKIE = "honed_csrf"
MAX_FORM_BYTES = 16 << 10
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def authorise(request: Request, token: str | None) -> Response | None:
    """None when the request may go on; otherwise the response that stops it."""
    if token is None:
        return None
    header = request.headers.get("authorization", "")
    if _same(header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else None, token) or _same(
        request.cookies.get(TOKEN_COOKIE), token
    ):
        return None
    if _same(request.query_params.get("token"), token):
        rest = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
        response = RedirectResponse(request.url.path + (f"?{rest}" if rest else ""), status_code=303)
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response
    return PlainTextResponse(
        "this dashboard needs its token: open it with ?token=... or send Authorization: Bearer ...", status_code=401
    )


def csrf_token(request: Request) -> str:
    """The page's CSRF token: the visitor's cookie, or a new one (set by ``remember_csrf``)."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and len(existing) == 43:
        return existing
    if getattr(request.state, "new_csrf", None) is None:
        request.state.new_csrf = secrets.token_urlsafe(32)
    return request.state.new_csrf


def remember_csrf(request: Request, response: Response) -> None:
    new = getattr(request.state, "new_csrf", None)
    if new:
        response.set_cookie(CSRF_COOKIE, new, httponly=True, samesite="strict")


async def checked_form(request: Request) -> dict[str, str]:
    """A POSTed form's fields, after the CSRF and origin checks (403 when they fail)."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise HTTPException(403, f"cross-site form from {origin} refused")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, "form too large")
    fields = {key: values[0] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
    if not _same(fields.get("csrf"), request.cookies.get(CSRF_COOKIE) or "\0"):
        raise HTTPException(403, "the form's CSRF token is missing or stale: reload the page and try again")
    return fields
