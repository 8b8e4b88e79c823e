"""The server's state (settings and domain objects), and the keys by which handlers reach it."""

from __future__ import annotations

from typing import Final

import attrs
from aiohttp import web

from ._files import Files
from ._flavours import Flavour
from ._processing import Processor
from ._rules import Settings
from ._storage import Store
from ._uploads import Uploads


@attrs.frozen
class ServerState:
    """Everything the handlers share: one per application."""

    settings: Settings
    store: Store
    """The data directory; handlers receive request bodies into it."""
    files: Files
    uploads: Uploads
    processor: Processor


#: The application's state.
STATE: Final = web.AppKey("state", ServerState)
#: The flavour of the route a request addresses, set first thing by the errors middleware.
FLAVOUR: Final = web.RequestKey("flavour", Flavour)
