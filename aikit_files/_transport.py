"""The aiohttp session: one request at a time, with timeouts, retries, and the error boundary.

``Transport.send`` sends a ``RequestSpec`` (with its body: a form, JSON, or none) and reads the
successful response with a sink, retrying what the policy says may be retried; it returns the
value together with its response's headers. This is the one place where exceptions of aiohttp,
``ssl``, ``OSError`` and timeouts become the errors of ``_exceptions`` (``map_error``), with the
original kept as ``__cause__``.
Within a call, every request shares the call's deadline (``_deadline``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, TypeVar

import aiohttp
import attrs
from multidict import CIMultiDict, CIMultiDictProxy

from ._compat import client_session
from ._config import ClientConfig, Timeout
from ._deadline import call_deadline, within_total
from ._exceptions import (
    AIKitError,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    ClientClosedError,
)
from ._io.body import FormPayload, FormSender
from ._io.sinks import Sink, error_body
from ._params import Parameters, ProgressCallback
from ._protocol import recovery
from ._protocol.pacing import Rejoin, rate_limited
from ._protocol.redaction import Redactor
from ._protocol.requests import FormBody, JsonBody, RequestSpec
from ._protocol.responses import Reply, redirect_error, status_error
from ._protocol.retry import RetryPolicy

logger = logging.getLogger("aikit_files")

T = TypeVar("T")

#: How much a response may buffer before aiohttp stops reading from the socket.
READ_BUFFER: Final = 256 * 1024

#: The most connections the session a client makes for itself holds at once. Calls beyond it
#: wait for a connection to come free (that wait counts towards the total time limit only, not
#: the connect one), so a burst of calls opens no more sockets than this. 100 is aiohttp's
#: default, made ours on purpose: as many as the official SDK keeps alive, far below the usual
#: limit of 1,024 open files, and above the 64 calls at once our load benchmark drives.
#: A borrowed session keeps its own limit.
CONNECTION_LIMIT: Final = 100

#: Looks, after an attempt that may have done its work without answering, for what it made
#: (given the Unix time the attempt began): the reply it would have given, or None. Made by
#: ``_recovery.Recovery``; when one runs, and what it found means, ``_protocol.recovery`` says.
Recover = Callable[[float], Awaitable["Reply[T] | None"]]


def _connector_message(exc: BaseException, timeout: Timeout) -> str:
    assert isinstance(exc, aiohttp.ClientConnectorError)
    return f"cannot connect to {exc.host}:{exc.port}: {exc.os_error.strerror or exc.os_error}"


#: The error boundary: each network failure, most specific first, and the message of ours it
#: becomes. The first entry whose type matches wins.
_NETWORK_ERRORS: Final[
    tuple[tuple[type[BaseException], type[APIConnectionError], Callable[..., str]], ...]
] = (
    (
        aiohttp.ConnectionTimeoutError,
        APITimeoutError,
        lambda exc, t: f"connecting to the server took more than {t.connect} s",
    ),
    (
        aiohttp.SocketTimeoutError,
        APITimeoutError,
        lambda exc, t: f"the server sent nothing for {t.read} s (read timeout)",
    ),
    (TimeoutError, APITimeoutError, lambda exc, t: f"the request timed out: {exc}"),
    (
        aiohttp.ClientSSLError,
        APIConnectionError,
        lambda exc, t: f"TLS with the server failed: {exc}",
    ),
    (ssl.SSLError, APIConnectionError, lambda exc, t: f"TLS with the server failed: {exc}"),
    (aiohttp.ClientConnectorError, APIConnectionError, _connector_message),
    (
        aiohttp.ServerDisconnectedError,
        APIConnectionError,
        lambda exc, t: "the server closed the connection without a full response",
    ),
    (
        aiohttp.ClientPayloadError,
        APIConnectionError,
        lambda exc, t: f"the response body was cut short: {exc}",
    ),
    (
        aiohttp.ClientResponseError,
        APIConnectionError,
        lambda exc, t: f"HTTP {exc.status} from a proxy or gateway: {exc.message}",
    ),
    (
        BaseException,
        APIConnectionError,
        lambda exc, t: f"connection error: {exc or type(exc).__name__}",
    ),
)


def _ours(exc: BaseException) -> AIKitError | None:
    """An error of ours among the causes of ``exc``: aiohttp reports a failure of the body it
    was writing (our source, our write timeout) as a connection error caused by it."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, AIKitError):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__
    return None


def map_error(exc: BaseException, timeout: Timeout) -> AIKitError:
    """The error a failed attempt is reported as; ``exc`` is kept as its ``__cause__``.

    An error of ours inside ``exc`` (a ``LocalIOError`` from the source, a write timeout) is
    reported as itself. A network error becomes an ``APIConnectionError`` (an
    ``APITimeoutError`` for a time limit), per the ``_NETWORK_ERRORS`` table.
    """
    ours = _ours(exc)
    if ours is not None:
        return ours
    error_class, message = next((c, m) for k, c, m in _NETWORK_ERRORS if isinstance(exc, k))
    error = error_class(message(exc, timeout))
    if isinstance(exc, aiohttp.ClientResponseError):
        # NOTE: not chained: its request_info holds the request's headers, the key among them.
        # With redirects off and statuses read by us, only a proxy's refusal gets here.
        error.__suppress_context__ = True
    else:
        error.__cause__ = exc
    return error


async def _look_before_sending_again(
    recover: Recover[T], started: float, error: AIKitError, *, idempotent: bool
) -> Reply[T] | None:
    """What an attempt that may have done its work made, if the lookup finds it; None when the
    request may be sent again (``after_lookup`` decides).

    Raises:
        AIKitError: ``error``, saying that the request may have been carried out, when the
            lookup itself failed, or when it found nothing after a timeout and the request
            must not be carried out twice.
    """
    message = getattr(error, "message", str(error))
    try:
        found = await recover(started)
    except AIKitError as lookup_error:
        raise type(error)(recovery.lookup_failed(message, lookup_error)) from error
    verdict = recovery.after_lookup(
        found=found is not None,
        timed_out=isinstance(error, APITimeoutError),
        idempotent=idempotent,
    )
    if verdict is recovery.AfterLookup.GIVE_UP:
        raise APITimeoutError(recovery.unsure(message)) from error
    return found


@attrs.frozen
class _CallSettings:
    timeout: Timeout
    policy: RetryPolicy
    client_timeout: aiohttp.ClientTimeout
    headers: Mapping[str, str] | None


class Transport:
    """Sends the requests of one client over one aiohttp session, owned or borrowed."""

    def __init__(self, config: ClientConfig, session: aiohttp.ClientSession | None = None) -> None:
        self.config = config
        self._session = session
        self._owns_session = session is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._policy = RetryPolicy(max_retries=config.max_retries)
        self._redactor = Redactor(config.api_key)
        self._default_settings = self._settings_for(config.timeout, self._policy, None)

    def _client_session(self) -> aiohttp.ClientSession:
        # NOTE: the session is made on first use, inside the running loop: a client may be built
        # before any loop runs, and an aiohttp session belongs to the loop it was made in.
        loop = asyncio.get_running_loop()
        if self._closed:
            raise ClientClosedError("the client is closed; no new request can start")
        if self._loop is not None and self._loop is not loop:
            raise RuntimeError(
                "this client was first used in another event loop; make one client per loop"
            )
        self._loop = loop
        if self._session is None:
            # NOTE: proxy variables are honoured (as httpx does) only when some are set: with
            # trust_env, aiohttp looks up proxies and ~/.netrc in a worker thread on every
            # request, which tripled the cost of a small call on loopback.
            # NOTE: one that never sends a request again on its own: our retry loop decides,
            # and counts, every attempt.
            self._session = client_session(
                connector=aiohttp.TCPConnector(limit=CONNECTION_LIMIT),
                trust_env=bool(urllib.request.getproxies()),
            )
        return self._session

    async def aclose(self) -> None:
        """Closes the session if this transport made it; a borrowed one is left open."""
        self._closed = True
        if self._owns_session and self._session is not None:
            await self._session.close()

    def _headers(self, response: aiohttp.ClientResponse) -> Mapping[str, str]:
        """The response's headers, with the API key blotted out should the server echo it."""
        headers = response.headers
        if not self._redactor.holds_secret(headers):
            return headers
        redact = self._redactor.text
        return CIMultiDictProxy(CIMultiDict((k, redact(v)) for k, v in headers.items()))

    @staticmethod
    def _settings_for(
        timeout: Timeout, policy: RetryPolicy, headers: Mapping[str, str] | None
    ) -> _CallSettings:
        return _CallSettings(
            timeout=timeout,
            policy=policy,
            client_timeout=aiohttp.ClientTimeout(
                total=None, connect=None, sock_connect=timeout.connect, sock_read=timeout.read
            ),
            headers=headers,
        )

    def _settings(self, params: Parameters) -> _CallSettings:
        if params.timeout is None and params.max_retries is None and not params.extra_headers:
            return self._default_settings
        timeout = self.config.timeout if params.timeout is None else Timeout.coerce(params.timeout)
        policy = self._policy
        if params.max_retries is not None:
            policy = attrs.evolve(policy, max_retries=params.max_retries)
        return self._settings_for(timeout, policy, params.extra_headers)

    async def send(
        self,
        spec: RequestSpec,
        params: Parameters,
        sink: Sink[T],
        *,
        on_progress: ProgressCallback | None = None,
        recover: Recover[T] | None = None,
    ) -> Reply[T]:
        """Sends a request, with retries, and reads the successful response with ``sink``.

        Args:
            spec: what to send, body included.
            params: the call's parameters (timeout, retries, extra headers). Within a call,
                its total time limit is the call's deadline (``within_total``); outside one,
                this request's.
            sink: turns the successful response into the call's value.
            on_progress: told of the bytes of a form's file part as they are sent.
            recover: after an attempt that sent its request whole and then got no answer (the
                server may have done the work), looks for its outcome before anything is sent
                again; what it finds is the call's reply.

        Returns:
            The value, with the headers of the response it was read from.

        Raises:
            APIStatusError: the server answered 4xx or 5xx (after any retries).
            APIConnectionError: no usable response (``APITimeoutError`` for a time limit).
            APIError: the response could not be read as expected.
            LocalIOError: the upload's source could not be read, or a download written.
        """
        settings = self._settings(params)
        total = settings.timeout.total
        attempts = self._attempts(spec, settings, sink, on_progress, recover)
        if total is None or call_deadline() is not None:
            # NOTE: within a call's deadline (``within_total``), which cancels the request
            # when it passes: the request's own total, if any, is the call's.
            return await attempts
        # A request outside any call (a page of ``iterate``) has its total to itself.
        return await within_total(attempts, total)

    def total(self, params: Parameters) -> float | None:
        """The total time limit of a call with these parameters, in seconds; None for none."""
        return self._settings(params).timeout.total

    async def _attempts(
        self,
        spec: RequestSpec,
        settings: _CallSettings,
        sink: Sink[T],
        on_progress: ProgressCallback | None,
        recover: Recover[T] | None,
    ) -> Reply[T]:
        session = self._client_session()
        headers: Mapping[str, str] = spec.headers
        if settings.headers:
            headers = {**headers, **settings.headers}
        sender: FormSender | None = None
        data: Any = None
        if isinstance(spec.body, FormBody):
            sender = FormSender(spec.body, on_progress)
        elif isinstance(spec.body, JsonBody):
            headers = {**headers, "Content-Type": JsonBody.content_type}
            data = spec.body.data
        retries = 0
        while True:
            rejoin: Rejoin | None = None
            if sender is not None:
                data = sender.payload(settings.timeout.write)
            started = time.time()
            try:
                return await self._attempt(session, spec, headers, data, settings, sink)
            except APIStatusError as exc:
                error: AIKitError = exc
                retryable = settings.policy.should_retry_status(exc.status_code, exc.headers)
                rejoin = rate_limited(exc.status_code, exc.headers)
                response_headers: Mapping[str, str] | None = exc.headers
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                error = map_error(exc, settings.timeout)
                if isinstance(error, APIError):
                    error = self._redactor.error(error)
                retryable = isinstance(error, APIConnectionError)
                response_headers = None
                # NOTE: a form tells whether it was handed over whole; a JSON body (bytes) goes
                # in one write with the head, as does a request with no body; nothing at all
                # was sent when no connection was made.
                whole = recovery.sent_whole(
                    connected=not isinstance(exc, aiohttp.ClientConnectorError),
                    body_complete=data.complete if isinstance(data, FormPayload) else True,
                )
                if recovery.must_look(
                    retryable=retryable, sent_whole=whole, can_look=recover is not None
                ):
                    assert recover is not None
                    found = await _look_before_sending_again(
                        recover, started, error, idempotent=recovery.is_idempotent(spec.method)
                    )
                    if found is not None:
                        return found
            if not retryable or (sender is not None and not sender.can_send_again()):
                raise error
            delay = settings.policy.delay(
                retries, response_headers, now=time.time(), rand=random.random()
            )
            # NOTE: no retry starts that could not end before the call's deadline.
            deadline = call_deadline()
            if delay is None or (
                deadline is not None and asyncio.get_running_loop().time() + delay >= deadline
            ):
                raise error
            logger.info("retrying %s %s in %.2f s after: %s", spec.method, spec.url, delay, error)
            await asyncio.sleep(delay)
            if rejoin is not None:
                # NOTE: a batch's file waits for its place among the files in flight again.
                await rejoin()
            retries += 1

    async def _attempt(
        self,
        session: aiohttp.ClientSession,
        spec: RequestSpec,
        headers: Mapping[str, str],
        data: Any,
        settings: _CallSettings,
        sink: Sink[T],
    ) -> Reply[T]:
        async with session.request(
            spec.method,
            spec.url,
            params=spec.query,
            headers=headers,
            data=data,
            timeout=settings.client_timeout,
            read_bufsize=READ_BUFFER,
            # NOTE: never follow a redirect: aiohttp keeps custom headers (Azure's api-key)
            # across origins, and the API has no reason to redirect.
            allow_redirects=False,
            # A borrowed session may raise on statuses itself; we read them.
            raise_for_status=False,
        ) as response:
            headers = self._headers(response)
            if 300 <= response.status < 400:
                raise redirect_error(response.status, headers)
            if response.status >= 400:
                body = self._redactor.bytes(await error_body(response))
                reason = self._redactor.text(response.reason or "")
                # NOTE: redacted again once decoded: JSON may spell the key with escapes.
                raise self._redactor.error(status_error(response.status, headers, body, reason))
            try:
                # NOTE: a server may echo the key in a success body too; the models are
                # redacted once decoded. Bytes (a file's content) are the user's data.
                value = self._redactor.model(await sink(response))
            except APIError as exc:
                # NOTE: an answer we could not read may hold the key (a non-JSON 2xx echoing it).
                raise self._redactor.error(exc)  # noqa: B904 (the same error, redacted)
            return Reply(value, headers)
