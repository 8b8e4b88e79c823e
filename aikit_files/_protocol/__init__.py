"""Sans-I/O core of the client: what to send and how to read what came back, never a socket.

Nothing here imports asyncio or aiohttp: the transport feeds this core with bytes and headers it
has already read, so the same logic serves any I/O layer and is tested without an event loop.
"""
