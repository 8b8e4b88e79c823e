"""``iterate()`` against a server whose pages loop: A, B, A... (and A, A...) ends in a clear
``APIError`` after each file was given once, instead of listing forever."""

from __future__ import annotations

import pytest
from aiohttp import web
from faults import FILE, FaultServer, Recorded, client_options

import aikit_files as af

pytestmark = pytest.mark.anyio


def file(file_id: str) -> dict[str, object]:
    return {**FILE, "id": file_id}


#: The pages of a server that sends A, then B, then A again (its cursor ``b2`` leads to A).
CYCLE = {
    None: ["a1", "a2"],
    "a2": ["b1", "b2"],
    "b2": ["a1", "a2"],
}


#: Where the server gives up, should the client go round and round (it must not).
GIVE_UP = 20


def server_of(pages: dict[str | None, list[str]]) -> FaultServer:
    asked = 0

    async def answer(request: web.Request, recorded: Recorded) -> web.StreamResponse:
        nonlocal asked
        asked += 1
        if asked > GIVE_UP:
            return web.json_response({"error": {"message": "gave up"}}, status=404)
        ids = pages[request.query.get("after")]
        listing = {"object": "list", "data": [file(i) for i in ids], "has_more": True}
        return web.json_response({**listing, "first_id": ids[0], "last_id": ids[-1]})

    return FaultServer(default=answer)


@pytest.mark.parametrize(
    ("pages", "given", "message"),
    [
        (CYCLE, ["a1", "a2", "b1", "b2"], "pages that come back around"),
        ({None: ["a1", "a2"], "a2": ["a1", "a2"]}, ["a1", "a2"], "the same page again"),
    ],
    ids=["A-B-A", "A-A"],
)
async def test_pages_that_loop_end_the_iteration(
    pages: dict[str | None, list[str]], given: list[str], message: str
) -> None:
    seen: list[str] = []

    async def iterate(client: af.AsyncClient) -> None:
        async for item in client.files.iterate(limit=2):
            seen.append(item.id)

    async with server_of(pages) as server, af.AsyncClient(**client_options(server)) as client:
        with pytest.raises(af.APIError, match=message):
            await iterate(client)
        # Each cursor was followed once; the page that came back around was not given again.
        assert len(server.requests) == len(pages)
    assert seen == given
