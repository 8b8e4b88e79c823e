"""What every request goes through: error envelope, credentials, api-version, expiry, request id."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from typing import Final

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler

from ._errors import DISK_FULL, ApiError, DiskFull, bad_request
from ._flavours import AZURE, Flavour, flavour_of
from ._http import awaits_continue
from ._ids import new_request_id
from ._state import FLAVOUR, STATE

log = logging.getLogger("aikit_files.server")

#: How long, and how many bytes, a refused request's body is discarded before the connection
#: closes (see ``_answer_and_close``).
LINGER_SECONDS: Final = 1.0
LINGER_BYTES: Final = 8 * 1024 * 1024
#: The name of the route that serves what no other route does (404, 405).
UNMATCHED: Final = "unmatched"
#: The Azure API versions whose Files and Uploads are what this server serves (2024-10-21's
#: surface: Uploads came with 2024-09-01-preview); Azure refuses a version it does not serve.
API_VERSIONS: Final = frozenset(
    {
        "2024-10-21",
        "2024-09-01-preview",
        "2024-10-01-preview",
        "2024-12-01-preview",
        "2025-01-01-preview",
        "2025-02-01-preview",
        "2025-03-01-preview",
        "2025-04-01-preview",
    }
)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Renders every failure in the flavour's error envelope, and drops a half-read request."""
    flavour = flavour_of(request.path)
    request[FLAVOUR] = flavour
    try:
        return await handler(request)
    except ApiError as error:
        failure = error
    except web.HTTPException as http_error:
        if http_error.status < 400:
            raise
        # NOTE: a 405 keeps its ``Allow`` header (RFC 9110 section 15.5.6: it MUST send one).
        allow = {"Allow": http_error.headers["Allow"]} if "Allow" in http_error.headers else None
        failure = ApiError(http_error.status, _http_message(request, http_error), headers=allow)
    except web.RequestPayloadError:
        # aiohttp could not decode the body (a Content-Encoding its bytes do not follow).
        failure = bad_request("We could not decode the body of your request.")
    except OSError as error:
        if error.errno not in DISK_FULL:
            log.exception("unexpected error serving %s %s", request.method, request.path)
            failure = ApiError(500, "The server had an error while processing your request.")
        else:
            # NOTE: a state of the machine, not a bug: one line, no traceback.
            log.warning("%s %s: the disk is full (%s)", request.method, request.path, error)
            failure = DiskFull()
    except Exception:
        log.exception("unexpected error serving %s %s", request.method, request.path)
        failure = ApiError(500, "The server had an error while processing your request.")
    response = web.json_response(
        flavour.error_body(failure), status=failure.status, headers=failure.headers
    )
    if not request.content.is_eof():
        await _answer_and_close(request, response)
    return response


async def _answer_and_close(request: web.Request, response: web.StreamResponse) -> None:
    """Sends the answer to a request whose body is not all read, then closes the connection.

    The rest of the body is not read (aiohttp would drain it for up to its lingering time, to
    keep the connection). A client still sending is given a little time, and bytes, to take
    the answer before the close, which might otherwise reset the connection under it.
    """
    response.force_close()
    with contextlib.suppress(
        ConnectionError, TimeoutError, aiohttp.ClientPayloadError, web.RequestPayloadError
    ):
        await response.prepare(request)
        await response.write_eof()
        # A client that waits for 100 Continue sends nothing more; one that stalled neither.
        if not awaits_continue(request) and response.status != 408:
            discarded = 0
            async with asyncio.timeout(LINGER_SECONDS):
                while discarded < LINGER_BYTES and (chunk := await request.content.readany()):
                    discarded += len(chunk)
    request.protocol.force_close()


def _http_message(request: web.Request, error: web.HTTPException) -> str:
    if error.status == 404:
        return f"Invalid URL ({request.method} {request.path})."
    if error.status == 405:
        return f"Method {request.method} is not allowed on {request.path}."
    return error.reason


def _presented_key(request: web.Request, flavour: Flavour) -> str | None:
    if flavour is AZURE:
        return request.headers.get("api-key") or None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _is_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuses API requests without a key, or with a key other than the configured one."""
    if not request.path.startswith(("/v1/", "/openai/")):
        return await handler(request)
    flavour = request[FLAVOUR]
    expected = request.app[STATE].settings.api_key
    presented = _presented_key(request, flavour)
    # NOTE: messages never repeat the key, not even a part of it.
    if presented is None:
        where = "an 'api-key' header" if flavour is AZURE else "an Authorization header (Bearer)"
        raise ApiError(401, f"No API key provided: send it in {where}.", code="missing_api_key")
    # NOTE: aiohttp decodes header bytes that are not UTF-8 as lone surrogates: such a key
    # names no key (and cannot be encoded back to compare it).
    if not presented.isascii() and not _is_utf8(presented):
        raise ApiError(401, "Incorrect API key provided: it is not UTF-8.", code="invalid_api_key")
    if expected is not None and not hmac.compare_digest(
        presented.encode(), expected.encode("utf-8", "surrogateescape")
    ):
        raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")
    return await handler(request)


@web.middleware
async def api_version_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Requires on the Azure routes an ``api-version`` this server implements (``API_VERSIONS``).

    A request that no route serves is answered 404 or 405 whatever its ``api-version``.
    """
    if request[FLAVOUR] is AZURE and request.match_info.route.name != UNMATCHED:
        version = request.query.get("api-version")
        if not version:
            raise bad_request("Missing required query parameter: 'api-version'.", "api-version")
        if version not in API_VERSIONS:
            raise bad_request(
                f"API version not supported: {version!r}. Supported versions are: "
                + ", ".join(sorted(API_VERSIONS))
                + ".",
                "api-version",
            )
    return await handler(request)


@web.middleware
async def expiry_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Removes expired files and Uploads before a request looks at them."""
    state = request.app[STATE]
    await state.store.purge_expired()
    await state.uploads.purge_expired()
    return await handler(request)


async def stamp_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Gives every answer, errors included, an ``x-request-id``, as the real API does."""
    response.headers["x-request-id"] = new_request_id()
