"""The disk and payload side of a call: reading sources, the streamed form body, response sinks.

Nothing here knows about retries or sessions: the transport uses these pieces for each attempt.
A failure on this side (the source, the disk) raises ``LocalIOError``, never a network error.
"""
