"""Errors as the command line reports them: one line naming the problem, and the fix where there
is one; never a traceback, never the API key."""

from __future__ import annotations

import argparse
import os
import urllib.parse

import attrs

import aikit_files as af
from aikit_files._config import DEFAULT_BASE_URL

#: The library's phrases and the command line's for the same thing: a message names the flag
#: or argument the user typed, not the Python parameter.
_PHRASES = (
    ("use a client made with provider='azure', or upload the file with create",
     "pass --provider azure, or upload the file with 'aikit-files upload'"),
    ("pass api_key=", "pass --api-key"),
    ("pass base_url=", "pass --base-url"),
    ("provider='azure'", "--provider azure"),
)  # fmt: skip
#: The library's parameter names, which start its messages, and the command line's.
_NAMES = (
    ("import_url ", "import-url "),
    ("base_url ", "--base-url "),
    ("content_url ", "URL "),
    ("expires_after.seconds ", "--expires-after "),
    ("upload_threshold ", "--upload-threshold "),
    ("part_size ", "--part-size "),
    ("max_concurrency ", "--concurrency "),
    ("file_id ", "ID "),
    ("destination: ", "DEST: "),
    ("filename ", "--filename "),
    ("purpose ", "--purpose "),
    ("file: ", "PATH: "),
)


def command_line_words(message: str) -> str:
    """``message`` of the library with the command line's names for its arguments."""
    for words, flag in _PHRASES:
        message = message.replace(words, flag)
    for name, flag in _NAMES:
        if message.startswith(name):
            return flag + message[len(name) :]
    return message


class Failure(Exception):
    """A problem already phrased for the user: its message is the error line; exit status 1."""


class ItemsFailed(Failure):
    """Some of the items of a command (files to upload, ids to delete) failed."""

    def __init__(self, item: str, error: BaseException, failed: int, total: int, noun: str):
        super().__init__(item)
        #: The first item that failed, and its error.
        self.item = item
        self.error = error
        #: How many items failed or were not attempted, of how many.
        self.failed = failed
        self.total = total
        self.noun = noun


@attrs.frozen
class Where:
    """The API a command talks to, as its error lines name it."""

    provider: str
    """``openai`` or ``azure``."""
    url: str
    """The base URL (without any user or password in it), or ``?`` when none is known."""

    @property
    def key_variable(self) -> str:
        """The environment variable that holds the key."""
        return "AZURE_OPENAI_API_KEY" if self.provider == "azure" else "OPENAI_API_KEY"

    @property
    def url_variable(self) -> str:
        """The environment variable that holds the base URL."""
        return "AZURE_OPENAI_ENDPOINT" if self.provider == "azure" else "OPENAI_BASE_URL"


def where(args: argparse.Namespace) -> Where:
    """The API the parsed arguments (and the environment) point at, for error lines only: the
    client reads its settings itself."""
    provider = args.provider or "openai"
    if provider == "azure":
        url = args.base_url or os.environ.get("AZURE_OPENAI_ENDPOINT") or "?"
    else:
        url = args.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    try:
        parts = urllib.parse.urlsplit(url)
        if parts.username is not None or parts.password is not None:
            url = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    except ValueError:
        pass
    return Where(provider, url)


def describe(error: BaseException, where: Where) -> str:
    """The error line (without the program's name) for a failed command."""
    if isinstance(error, ItemsFailed):
        others = error.failed - 1
        count = f" ({error.failed} of {error.total} {error.noun} failed)" if others else ""
        line = describe(error.error, where)
        return f"{line if error.item in line else f'{error.item}: {line}'}{count}"
    if isinstance(error, Failure | af.FileProcessingError | af.LocalIOError):
        return str(error)
    if isinstance(error, af.InvalidArgumentError):
        return command_line_words(str(error))
    if isinstance(error, af.AuthenticationError):
        return (
            f"the server at {where.url} refused the API key (401: {error.message}): pass the "
            f"right key with --api-key or set {where.key_variable}"
        )
    if isinstance(error, af.PermissionDeniedError):
        return f"the API key may not do this (403: {error.message})"
    if isinstance(error, af.NotFoundError):
        hint = " (OpenAI's ends in /v1)" if where.provider == "openai" else ""
        return (
            f"the server at {where.url} has no such route (404: {error.message}): check the "
            f"base URL{hint}, --base-url or {where.url_variable}"
        )
    if isinstance(error, af.APIStatusError):
        request = f" [request {error.request_id}]" if error.request_id else ""
        return f"the server answered {error.status_code}: {error.message}{request}"
    if isinstance(error, af.APITimeoutError):
        return f"timed out talking to {where.url}: {error.message}"
    if isinstance(error, af.APIConnectionError):
        return (
            f"cannot reach the server at {where.url} ({error.message}): check the URL, "
            f"--base-url or {where.url_variable}"
        )
    if isinstance(error, af.AIKitError | OSError):
        return str(error) or type(error).__name__
    return f"unexpected error ({type(error).__name__}): {error}"


def one_line(text: str, secrets: tuple[str | None, ...] = ()) -> str:
    """``text`` on one line, with every secret (an API key) masked."""
    for secret in secrets:
        # NOTE: a very short "key" would mask ordinary letters; no real key is that short.
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return " ".join(text.split())
