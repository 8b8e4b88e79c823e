"""Helpers for tests of code that uses the Files API: ``FaultProxy`` and its faults.

``FaultProxy`` sits between a client and a server (the local Files API server, or any HTTP
server) and, by rules, breaks the requests it is told to break: it resets connections, answers
a status, delays, stalls a body, truncates a response, or loses the response to a request the
server did handle. ``exchanges`` records what each request went through.

In a pytest test, with the local server::

    import openai
    import pytest

    from aikit_files.server import ServerThread
    from aikit_files.testing import FaultProxy, LoseResponse, Respond, Rule

    def test_an_upload_outlives_a_rate_limit(tmp_path):
        first_upload = Rule(Respond(429, retry_after_ms=10), method="POST", ordinal=1)
        with (
            ServerThread(tmp_path, api_key="sk-test") as server,
            FaultProxy(server.url, [first_upload]) as proxy,
            openai.OpenAI(base_url=proxy.url + "/v1", api_key="sk-test", max_retries=2) as client,
        ):
            created = client.files.create(file=("a.txt", b"hello"), purpose="assistants")
            assert created.bytes == 5
            assert [e.status for e in proxy.exchanges] == [429, 200]
            assert [e.forwarded for e in proxy.exchanges] == [False, True]

            proxy.add_rule(Rule(LoseResponse(), method="POST"))
            with pytest.raises(openai.APIConnectionError):
                client.with_options(max_retries=0).files.create(
                    file=("b.txt", b"again"), purpose="assistants"
                )
            # the server stored the file; the client never heard of it
            assert proxy.exchanges[-1].upstream_status == 200
            assert len(client.files.list().data) == 2
"""

from __future__ import annotations

from ._faults import Delay, Fault, LoseResponse, Reset, Respond, Rule, Stall, Truncate
from ._proxy import Exchange, FaultProxy

__all__ = [
    "Delay",
    "Exchange",
    "Fault",
    "FaultProxy",
    "LoseResponse",
    "Reset",
    "Respond",
    "Rule",
    "Stall",
    "Truncate",
]
