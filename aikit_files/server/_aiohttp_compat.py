"""The server's one wall around aiohttp's private attributes (the client has its own).

Every private attribute of aiohttp (or asyncio) the server touches is named here and nowhere
else, each with a fallback to public behaviour when it is missing or changed: slower is
acceptable, wrong is not. Today there is one: the arguments a ``web.Server`` makes its
connections with (``Server._loop``, ``Server._kwargs``), to make a connection of our class.
Its fallback lets aiohttp make its own connection (public ``web.Server.__call__``) and then
gives it our class, which adds no state; where even that is refused, aiohttp's connection stays
as it is: malformed HTTP is then answered in aiohttp's plain text instead of the API's body.

A test runs each fallback by naming an attribute that does not exist (``_SERVER_LOOP``...).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final, TypeVar

from aiohttp import web

log = logging.getLogger("aikit_files.server")

T = TypeVar("T")

#: The private attributes read, by name (a test names missing ones to run the fallbacks).
_SERVER_LOOP: Final = "_loop"
_SERVER_KWARGS: Final = "_kwargs"


def adopt(instance: object, cls: type[T]) -> T | None:
    """``instance`` given the class ``cls``, a subclass of its class that adds no slots and no
    state (only methods), or None when Python refuses (a class made in C, other slots).

    NOTE: this is plain Python, not a private attribute of aiohttp: it needs only that the
    class be a Python class, which a test of the wall checks against the aiohttp installed.
    """
    try:
        instance.__class__ = cls
    except TypeError:
        return None
    return instance  # type: ignore[return-value]  # its class is now ``cls``


def connection(server: web.Server, cls: type[web.RequestHandler]) -> web.RequestHandler:
    """A new connection of ``server`` (what ``web.Server.__call__`` makes), of class ``cls``.

    Args:
        server: The server the connection belongs to.
        cls: A subclass of ``web.RequestHandler`` that only overrides methods.

    Returns:
        The connection: of class ``cls``, unless aiohttp's connections can take no other class.
    """
    loop = getattr(server, _SERVER_LOOP, None)
    kwargs = getattr(server, _SERVER_KWARGS, None)
    if isinstance(loop, asyncio.AbstractEventLoop) and isinstance(kwargs, dict):
        return cls(server, loop=loop, **kwargs)
    # Fallback: aiohttp makes its own connection, which then takes our class.
    made = web.Server.__call__(server)
    adopted = adopt(made, cls)
    if adopted is None:
        log.debug("aiohttp's connections cannot take %s: its own answers stay", cls.__name__)
        return made
    return adopted
