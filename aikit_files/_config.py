"""Client configuration: timeouts, and the settings read from arguments and the environment."""

from __future__ import annotations

import math
import os
import re
import urllib.parse
from collections.abc import Mapping
from typing import Final, Literal, TypedDict, Unpack

import attrs

from ._exceptions import InvalidArgumentError, InvalidArgumentTypeError
from ._limits import AZURE_UPLOAD_LIMIT, AZURE_UPLOAD_PART_LIMIT, UPLOAD_LIMIT, UPLOAD_PART_LIMIT

DEFAULT_BASE_URL: Final = "https://api.openai.com/v1"
DEFAULT_AZURE_API_VERSION: Final = "2024-10-21"
DEFAULT_TIMEOUT: Final = 600.0
DEFAULT_MAX_RETRIES: Final = 2

Provider = Literal["openai", "azure"]


def check_seconds(what: str, value: object) -> float:
    """Checks a duration given in seconds.

    Returns:
        The duration, as a float.

    Raises:
        InvalidArgumentError: the value is negative, zero or NaN (a ``TypeError`` too when it
            is not a number).
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgumentTypeError(
            f"{what} must be a number of seconds, not {type(value).__name__}"
        )
    if math.isnan(value) or value <= 0:
        raise InvalidArgumentError(f"{what} must be a positive number of seconds, got {value!r}")
    return float(value)


@attrs.frozen
class Timeout:
    """Time limits of one call, in seconds; ``None`` means no limit."""

    connect: float | None = DEFAULT_TIMEOUT
    """Limit on establishing a connection (TCP and TLS)."""
    read: float | None = DEFAULT_TIMEOUT
    """Limit on any wait for bytes from the server."""
    write: float | None = DEFAULT_TIMEOUT
    """Limit on any wait to send bytes to the server: a stalled upload fails instead of hanging."""
    total: float | None = None
    """Deadline for the whole call, retries and backoff included."""

    def __attrs_post_init__(self) -> None:
        for field in attrs.fields(Timeout):
            value = getattr(self, field.name)
            if value is not None:
                check_seconds(f"timeout.{field.name}", value)

    @classmethod
    def coerce(cls, value: float | Timeout | None) -> Timeout:
        """Turns a user's ``timeout`` argument into a ``Timeout``.

        A number sets connect, read and write alike; ``None`` disables every limit.

        Raises:
            InvalidArgumentError: the value is negative, zero or NaN (a ``TypeError`` too when it
                is not a number).
        """
        if isinstance(value, Timeout):
            return value
        if value is None:
            return cls(connect=None, read=None, write=None, total=None)
        seconds = check_seconds("timeout", value)
        return cls(connect=seconds, read=seconds, write=seconds)


class ClientOptions(TypedDict, total=False):
    """The arguments of ``AsyncClient`` and ``Client`` after ``api_key``, all optional."""

    base_url: str | None
    """For OpenAI the API root with its ``/v1`` (``OPENAI_BASE_URL``, else
    ``https://api.openai.com/v1``); for Azure the resource endpoint (``AZURE_OPENAI_ENDPOINT``)."""
    organization: str | None
    """Sent as ``OpenAI-Organization`` (``OPENAI_ORG_ID``)."""
    project: str | None
    """Sent as ``OpenAI-Project`` (``OPENAI_PROJECT_ID``)."""
    provider: str | None
    """``"openai"`` (the default) or ``"azure"``."""
    api_version: str | None
    """Azure's ``api-version`` (``OPENAI_API_VERSION``, else ``2024-10-21``)."""
    timeout: float | Timeout | None
    """Seconds for connect, read and write alike (600 by default), or a ``Timeout``."""
    max_retries: int
    """Retries of a failed call, for every call that does not set its own (2 by default)."""


def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    return value if value else None


#: What a header value may not hold: C0 and C1 controls and DEL (a line break read from a file,
#: above all), surrogates, and anything past U+00FF, which no header can carry (RFC 9110
#: allows visible ASCII, spaces and obs-text octets).
_NOT_IN_HEADER: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]|[^\x00-\xff]")
#: What a base URL may not hold: control characters and whitespace (urlsplit would drop some
#: silently, then the URL would be sent as it is).
_NOT_IN_URL: Final = re.compile(r"[\x00-\x20\x7f-\x9f]|[\ud800-\udfff]")


def _named(name: str, variable: str, from_environment: bool) -> str:
    """The name of a setting in a message: the argument, and the variable it came from."""
    return f"{name} (from {variable})" if from_environment else name


def _check_header_setting(what: str, value: str | None, *, secret: bool) -> None:
    """Refuses a value that cannot go in a header, naming the setting but never a secret.

    Raises:
        InvalidArgumentError: ``value`` holds a control character or one a header cannot carry.
    """
    if value is None:
        return
    found = _NOT_IN_HEADER.search(value)
    if found is None:
        return
    char = found.group()
    if char in "\r\n":
        kind = "a line break (read from a file with its newline?)"
    elif ord(char) < 0xA0:
        kind = "a control character"
    else:
        kind = "a character no HTTP header can carry"
    where = "at its end" if found.end() == len(value) else f"at position {found.start()}"
    # NOTE: a secret is never shown, nor a printable character of it.
    named = "" if secret and ord(char) >= 0xA0 else f" {char!a}"
    shown = "" if secret else f": {value!r}"
    raise InvalidArgumentError(f"{what} holds {kind}{named} {where}{shown}")


def _check_base_url(what: str, url: str) -> None:
    """Checks a base URL; its text is shown only when it holds no credentials.

    Raises:
        InvalidArgumentError: it is no http(s) URL with a host, holds credentials, a query, a
            fragment, a control character or whitespace.
    """
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as exc:
        raise InvalidArgumentError(f"{what} is not a valid URL ({exc})") from None
    if "@" in parts.netloc:
        # NOTE: neither the URL nor the user is shown: the password is in it. aiohttp would send
        # these as Basic credentials, beside our own key, to whatever host follows.
        raise InvalidArgumentError(
            f"{what} must not hold credentials (user:password@): the client authenticates with "
            "the API key; remove the part before '@'"
        )
    found = _NOT_IN_URL.search(url)
    if found is not None:
        raise InvalidArgumentError(
            f"{what} holds a control character or whitespace ({found.group()!a}) at "
            f"position {found.start()}: {url!r}"
        )
    try:
        host = parts.hostname
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError as exc:
        raise InvalidArgumentError(f"{what} is not a valid URL ({exc}): {url!r}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidArgumentError(
            f"{what} must be an http:// or https:// URL with a host, got {url!r}"
        )
    try:
        # NOTE: what the resolver does with the name at the first call, where its error would
        # be a bare UnicodeError.
        host.encode("idna")
    except UnicodeError:
        raise InvalidArgumentError(
            f"{what} has a host name with an empty label or one over 63 characters, "
            f"which no DNS name has: {host!r}"
        ) from None
    if parts.query or parts.fragment or "?" in url or "#" in url:
        # NOTE: paths are appended to base_url: a query would end up in the middle of them.
        raise InvalidArgumentError(
            f"{what} must have no query or fragment (paths are added to it), got {url!r}"
        )


@attrs.frozen
class ClientConfig:
    """Everything a client needs to address the API, resolved from arguments and environment."""

    api_key: str | None = attrs.field(repr=False)
    base_url: str
    provider: Provider = "openai"
    organization: str | None = None
    project: str | None = None
    api_version: str | None = None
    timeout: Timeout = Timeout()
    max_retries: int = DEFAULT_MAX_RETRIES

    @property
    def upload_limit(self) -> int:
        """The largest file the API takes (through its Uploads API)."""
        return AZURE_UPLOAD_LIMIT if self.provider == "azure" else UPLOAD_LIMIT

    @property
    def part_limit(self) -> int:
        """The largest Part of an Upload (Azure's: the largest file of ``POST /files``)."""
        return AZURE_UPLOAD_PART_LIMIT if self.provider == "azure" else UPLOAD_PART_LIMIT

    def __repr__(self) -> str:
        # NOTE: the key is never shown, not even a prefix of it.
        key = "set" if self.api_key else "unset"
        return (
            f"ClientConfig(provider={self.provider!r}, base_url={self.base_url!r}, "
            f"api_key=<{key}>, api_version={self.api_version!r})"
        )

    @classmethod
    def resolve(
        cls,
        api_key: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        **options: Unpack[ClientOptions],
    ) -> ClientConfig:
        """Builds the configuration as openai-python does: arguments first, then the environment.

        Args:
            api_key: the API key, or None to read it from the environment.
            environ: the environment to read (``os.environ`` by default).
            **options: the clients' other arguments (``ClientOptions``).

        Raises:
            InvalidArgumentError: an argument is malformed or unknown, or a required value is
                missing.
        """
        unknown = set(options) - set(ClientOptions.__annotations__)
        if unknown:
            raise InvalidArgumentTypeError(f"unexpected argument(s): {', '.join(sorted(unknown))}")
        base_url = options.get("base_url")
        organization = options.get("organization")
        project = options.get("project")
        provider = options.get("provider") or "openai"
        api_version = options.get("api_version")
        timeout = options.get("timeout", DEFAULT_TIMEOUT)
        max_retries = options.get("max_retries", DEFAULT_MAX_RETRIES)
        env = os.environ if environ is None else environ
        version: str | None
        if provider not in ("openai", "azure"):
            raise InvalidArgumentError(f"provider must be 'openai' or 'azure', got {provider!r}")
        check_max_retries(max_retries)
        for name, value in (
            ("api_key", api_key),
            ("base_url", base_url),
            ("organization", organization),
            ("project", project),
            ("api_version", api_version),
        ):
            if value is not None and not isinstance(value, str):
                raise InvalidArgumentTypeError(
                    f"{name} must be a string or None, not {type(value).__name__}"
                )
        azure = provider == "azure"
        key_variable = "AZURE_OPENAI_API_KEY" if azure else "OPENAI_API_KEY"
        url_variable = "AZURE_OPENAI_ENDPOINT" if azure else "OPENAI_BASE_URL"
        key = api_key or _env(env, key_variable)
        url = base_url or _env(env, url_variable)
        if azure:
            if not url:
                raise InvalidArgumentError(
                    "Azure needs an endpoint: pass base_url= or set AZURE_OPENAI_ENDPOINT"
                )
            version = api_version or _env(env, "OPENAI_API_VERSION") or DEFAULT_AZURE_API_VERSION
        else:
            version = api_version
        organization = organization or _env(env, "OPENAI_ORG_ID")
        project = project or _env(env, "OPENAI_PROJECT_ID")
        # NOTE: refused now, when the client is made, rather than at the first call as a bare
        # error of aiohttp's; each message names the setting (and the variable it came from).
        for name, value, variable, given, secret in (
            ("api_key", key, key_variable, api_key, True),
            ("organization", organization, "OPENAI_ORG_ID", options.get("organization"), False),
            ("project", project, "OPENAI_PROJECT_ID", options.get("project"), False),
            ("api_version", version, "OPENAI_API_VERSION", api_version, False),
        ):
            shown = _named(name, variable, from_environment=not given)
            _check_header_setting(shown, value, secret=secret)
        if url:
            _check_base_url(_named("base_url", url_variable, from_environment=not base_url), url)
        else:
            url = DEFAULT_BASE_URL
        return cls(
            api_key=key,
            base_url=url.rstrip("/"),
            provider="azure" if provider == "azure" else "openai",
            organization=organization,
            project=project,
            api_version=version,
            timeout=Timeout.coerce(timeout),
            max_retries=max_retries,
        )


def check_max_retries(value: object) -> None:
    """Raises ``InvalidArgumentError`` unless ``value`` is a non-negative integer."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentTypeError(
            f"max_retries must be a non-negative integer, not {type(value).__name__}"
        )
    if value < 0:
        raise InvalidArgumentError(f"max_retries must be a non-negative integer, got {value}")
