"""The client's one wall around private attributes of aiohttp, asyncio and threading.

Every private attribute the client touches is used from here and nowhere else, each with a
fallback to public behaviour (slower is acceptable, wrong is not) when the attribute is missing
or changed; a test runs each fallback by simulating the attribute's absence.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------------------------
# aiohttp (client side): the session, its connections and the request body writer.
# ---------------------------------------------------------------------------------------------


# (the aiohttp wall goes here)


# ---------------------------------------------------------------------------------------------
# asyncio and threading: the running loop without a system call, and exit hooks that run
# before the interpreter's threads are joined.
# ---------------------------------------------------------------------------------------------


# (the asyncio and threading wall goes here)
