"""The arena's pages: the list, a voter's next pair (blind, sides shuffled per voter), the vote
(a CSRF-checked form), and the ratings with their CIs and the win-rate table."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

from fastapi import FastAPI, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from honed.arena import votes
from honed.core.errors import HonedError, SpecError
from honed.dashboard import security
from honed.store.database import Store

VOTER_COOKIE = "honed_voter"
ARENA_ID = Path(pattern=r"^[0-9a-f]{32}$")


def add_arena_routes(app: FastAPI, store: Store, page: Any) -> None:
    def found(arena_id: str) -> Any:
        try:
            return votes.arena(store, arena_id)
        except HonedError as error:
            raise HTTPException(404, str(error)) from None

    @app.get("/arena", response_class=HTMLResponse)
    def arena_list(request: Request) -> HTMLResponse:
        return page(request, "arenas.html.j2", arenas=votes.arenas(store))

    @app.get("/arena/{arena_id}", response_class=HTMLResponse)
    def arena_vote(request: Request, arena_id: str = ARENA_ID) -> HTMLResponse:
        arena = found(arena_id)
        voter = _voter(request)
        pair, left, total = votes.next_pair(store, arena_id, voter) if voter else (None, 0, 0)
        shown = None
        if pair is not None and voter:
            sides = (pair.second, pair.first) if votes.swapped(voter, pair.id) else (pair.first, pair.second)
            shown = {
                "pair": pair.id,
                "prompt": arena.prompts[pair.prompt],
                "left": arena.outputs[sides[0]][pair.prompt],
                "right": arena.outputs[sides[1]][pair.prompt],
            }
        return page(request, "arena.html.j2", arena=arena, voter=voter, shown=shown, left=left, total=total)

    @app.post("/arena/{arena_id}/voter")
    async def arena_voter(request: Request, arena_id: str = ARENA_ID) -> RedirectResponse:
        fields = await security.checked_form(request)
        try:
            voter = votes.check_voter(fields.get("voter", ""))
        except SpecError as error:
            raise HTTPException(422, str(error)) from None
        response = RedirectResponse(f"/arena/{arena_id}", status_code=303)
        response.set_cookie(VOTER_COOKIE, quote(voter), httponly=True, samesite="strict")
        return response

    @app.post("/arena/{arena_id}/vote")
    async def arena_cast(request: Request, arena_id: str = ARENA_ID) -> RedirectResponse:
        fields = await security.checked_form(request)
        voter = _voter(request)
        if not voter:
            raise HTTPException(422, "say who you are first (the name field above the pair)")
        try:
            votes.vote(store, arena_id, int(fields.get("pair", "-1")), voter, fields.get("side", ""))
        except (HonedError, ValueError) as error:
            raise HTTPException(422, str(error)) from None
        return RedirectResponse(f"/arena/{arena_id}", status_code=303)

    @app.get("/arena/{arena_id}/ratings", response_class=HTMLResponse)
    def arena_ratings(request: Request, arena_id: str = ARENA_ID) -> HTMLResponse:
        arena = found(arena_id)
        return page(request, "arena_ratings.html.j2", arena=arena, result=votes.ratings(store, arena_id))


def _voter(request: Request) -> str | None:
    cookie = request.cookies.get(VOTER_COOKIE)
    return unquote(cookie) if cookie else None
