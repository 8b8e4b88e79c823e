"""Parameter objects of each call (4D's OpenAIParameters and its subclasses), and their checks."""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, TypeVar

import attrs

from ._config import Timeout, check_max_retries
from ._exceptions import InvalidArgumentError, InvalidArgumentTypeError
from ._limits import LIST_LIMIT_MAX, LIST_LIMIT_MIN, UPLOAD_PART_LIMIT
from ._models import ExpiresAfter
from ._results import headers_repr

if TYPE_CHECKING:
    from ._results import Result

#: A callback: a plain function or a coroutine function taking the call's result object.
Callback = Callable[["Result"], "Awaitable[None] | None"]
#: ``on_progress(done_bytes, total_bytes)``; ``total_bytes`` is None when the size is unknown.
ProgressCallback = Callable[[int, "int | None"], None]

P = TypeVar("P", bound="Parameters")


#: A header name: an RFC 9110 token.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: What a header value may not hold: control characters but TAB (C1 included), and characters
#: past U+00FF (a lone surrogate among them), which aiohttp would drop or mangle silently.
_HEADER_VALUE_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]|[^\x00-\xff]")
#: Headers that frame the request: ours to set, never the caller's.
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "host", "connection"})


@attrs.define(kw_only=True)
class Parameters:
    """Options every call takes; a field left None uses the client's setting."""

    timeout: float | Timeout | None = None
    """Time limits of this call: seconds, or a ``Timeout``; None uses the client's."""
    max_retries: int | None = None
    """Retries of this call; None uses the client's."""
    extra_headers: Mapping[str, str] | None = attrs.field(default=None, repr=headers_repr)
    """Headers added to this call's requests (they override the client's); in a repr, the
    values of credentials (``Authorization``, ``api-key``, ``Cookie``...) are hidden."""
    on_terminate: Callback | None = None
    """Called once when the call ends, whatever the outcome, after on_response/on_error."""
    on_response: Callback | None = None
    """Called once when the call succeeds."""
    on_error: Callback | None = None
    """Called once when the call fails (HTTP, network, timeout, cancellation)."""

    @property
    def has_callbacks(self) -> bool:
        """Whether any callback is set (4D's "asynchronous" mode)."""
        return any(cb is not None for cb in (self.on_terminate, self.on_response, self.on_error))

    def validate(self) -> None:
        """Checks every field.

        Raises:
            InvalidArgumentError: a field is malformed (a ``TypeError`` too for a wrong type).
        """
        if self.timeout is not None and not isinstance(self.timeout, Timeout):
            Timeout.coerce(self.timeout)
        if self.max_retries is not None:
            check_max_retries(self.max_retries)
        if self.extra_headers is not None:
            if not isinstance(self.extra_headers, Mapping):
                raise InvalidArgumentTypeError("extra_headers must be a mapping of str to str")
            for key, value in self.extra_headers.items():
                if not isinstance(key, str) or not isinstance(value, str):
                    raise InvalidArgumentTypeError("extra_headers must be a mapping of str to str")
                if not _HEADER_NAME.fullmatch(key):
                    raise InvalidArgumentError(f"extra_headers: {key!r} is not a header name")
                if key.lower() in FRAMING_HEADERS:
                    raise InvalidArgumentError(
                        f"extra_headers may not set {key!r}: it frames the request, which the "
                        "client does"
                    )
                if _HEADER_VALUE_FORBIDDEN.search(value):
                    raise InvalidArgumentError(
                        f"extra_headers[{key!r}] holds a control character (only TAB is allowed) "
                        "or a character no HTTP header can carry"
                    )
        for name in ("on_terminate", "on_response", "on_error"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise InvalidArgumentTypeError(
                    f"{name} must be callable, not {type(value).__name__}"
                )


@attrs.define(kw_only=True)
class FileParameters(Parameters):
    """Options of ``create``."""

    expires_after: ExpiresAfter | None = None
    """When the uploaded file expires; None keeps the server's default."""
    filename: str | None = None
    """The name to give the file; by default the path's name, or ``file`` for a blob."""
    content_type: str | None = None
    """The MIME type of the file part; by default guessed from the filename."""
    on_progress: ProgressCallback | None = None
    """``on_progress(sent_bytes, total_bytes)``, called as the upload goes (across all Parts of
    a large upload)."""
    upload_threshold: int | None = None
    """A source of known size larger than this many bytes goes through the Uploads API, in
    Parts; None: 512 MiB, the limit of ``POST /files``."""
    part_size: int | None = None
    """Bytes per Part of a large upload, 1 to 64 MiB; None: 64 MiB."""
    max_concurrency: int | None = None
    """Parts of a large upload in flight at once; None: 4."""
    resume: bool | str | os.PathLike[str] | None = None
    """For a large upload of a path: keep a journal (True: in the cache folder, or at this
    path) so that running the same ``create`` again after a crash sends only the Parts not
    yet sent; None or False: no journal."""
    check: bool = False
    """Check the file against the API's format rules for its purpose (``check_file``) before
    sending any byte; a file with problems ends the call with ``InvalidFileError``. Takes a path
    or bytes."""

    def validate(self) -> None:
        super().validate()
        if not isinstance(self.check, bool):
            raise InvalidArgumentTypeError(f"check must be True or False, not {self.check!r}")
        if self.upload_threshold is not None:
            check_upload_threshold(self.upload_threshold)
        if self.part_size is not None:
            check_part_size(self.part_size)
        if self.max_concurrency is not None:
            check_max_concurrency(self.max_concurrency)
        if self.resume is not None and not isinstance(self.resume, bool | str | os.PathLike):
            raise InvalidArgumentTypeError(
                f"resume must be True, False or a journal path, not {type(self.resume).__name__}"
            )
        if isinstance(self.resume, str | os.PathLike) and not os.fspath(self.resume):
            raise InvalidArgumentError("resume: the journal path is empty")
        if self.expires_after is not None and not isinstance(self.expires_after, ExpiresAfter):
            if isinstance(self.expires_after, Mapping):
                self.expires_after = expires_after_from_mapping(self.expires_after)
            else:
                raise InvalidArgumentTypeError(
                    "expires_after must be an ExpiresAfter (or a mapping with anchor and seconds), "
                    f"not {type(self.expires_after).__name__}"
                )
        _check_text(self, "filename", "content_type")
        _check_on_progress(self.on_progress)


#: What a method's ``parameters`` takes: the parameters object, a mapping of its fields, or
#: nothing.
ParametersArg = Parameters | Mapping[str, Any] | None


def check_part_size(part_size: object) -> int:
    """Checks ``part_size``: an integer from 1 to the Part limit (64 MiB).

    Raises:
        InvalidArgumentError: it is out of bounds (a ``TypeError`` too when not an integer).
    """
    return check_integer("part_size", part_size, 1, UPLOAD_PART_LIMIT)


def check_max_concurrency(value: object) -> int:
    """Checks ``max_concurrency``: an integer from 1 (the Parts in flight at once).

    Raises:
        InvalidArgumentError: it is below 1 (a ``TypeError`` too when not an integer).
    """
    return check_integer("max_concurrency", value, 1, None)


def check_upload_threshold(value: object) -> int:
    """Checks ``upload_threshold``: a number of bytes, 0 or more.

    Raises:
        InvalidArgumentError: it is negative (a ``TypeError`` too when not an integer).
    """
    return check_integer("upload_threshold", value, 0, None)


def check_integer(name: str, value: object, low: int, high: int | None) -> int:
    """``value``, an integer from ``low`` to ``high`` (no upper bound if None)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentTypeError(f"{name} must be an integer, not {type(value).__name__}")
    if value < low or (high is not None and value > high):
        bounds = f"from {low}" + (f" to {high}" if high is not None else "")
        raise InvalidArgumentError(f"{name} must be {bounds}, got {value}")
    return value


def forbid_content_type(parameters: Parameters) -> None:
    """Refuses a ``Content-Type`` among ``extra_headers`` of a call whose body the client frames.

    Raises:
        InvalidArgumentError: it is there.
    """
    for key in parameters.extra_headers or ():
        if key.lower() == "content-type":
            raise InvalidArgumentError(
                f"extra_headers may not set {key!r} on a call whose body the client frames "
                "(create sets the file part's type with content_type=)"
            )


def _check_text(parameters: Parameters, *names: str) -> None:
    """Checks that each named field is None or a non-empty string on one line."""
    for name in names:
        value = getattr(parameters, name)
        if value is not None:
            check_line(name, value)


def check_line(name: str, value: object) -> str:
    """``value``, a non-empty string on one line."""
    if not isinstance(value, str):
        raise InvalidArgumentTypeError(f"{name} must be a string, not {type(value).__name__}")
    if not value or any(c in value for c in "\r\n\0"):
        raise InvalidArgumentError(f"{name} must be non-empty and on one line, got {value!r}")
    return value


def _check_on_progress(value: object) -> None:
    if value is not None and not callable(value):
        raise InvalidArgumentTypeError("on_progress must be callable")


def expires_after_from_mapping(value: Mapping[str, Any]) -> ExpiresAfter:
    """The ``ExpiresAfter`` of a mapping with ``seconds`` (and ``anchor``)."""
    unknown = set(value) - {"anchor", "seconds"}
    if unknown or "seconds" not in value:
        raise InvalidArgumentError(
            f"expires_after must have the keys 'anchor' and 'seconds' only, got {sorted(value)!r}"
        )
    return ExpiresAfter(seconds=value["seconds"], anchor=value.get("anchor", "created_at"))


@attrs.define(kw_only=True)
class DownloadParameters(Parameters):
    """Options of ``download``."""

    on_progress: ProgressCallback | None = None
    """``on_progress(received_bytes, total_bytes)``, called as the download goes; ``total_bytes``
    is None when the server did not say."""

    def validate(self) -> None:
        super().validate()
        _check_on_progress(self.on_progress)


@attrs.define(kw_only=True)
class FileListParameters(Parameters):
    """Options of ``list`` and ``iterate``."""

    purpose: str | None = None
    """Only files with this purpose."""
    limit: int | None = None
    """Files per page, 1 to 10000; None keeps the server's default (10000)."""
    order: str | None = None
    """``asc`` or ``desc`` by ``created_at``; None keeps the server's default (``desc``)."""
    after: str | None = None
    """The cursor: the id of the file after which the page starts."""

    def validate(self) -> None:
        super().validate()
        if self.limit is not None:
            if isinstance(self.limit, bool) or not isinstance(self.limit, int):
                raise InvalidArgumentTypeError(
                    f"limit must be an integer, not {type(self.limit).__name__}"
                )
            if not LIST_LIMIT_MIN <= self.limit <= LIST_LIMIT_MAX:
                raise InvalidArgumentError(
                    f"limit must be between {LIST_LIMIT_MIN} and {LIST_LIMIT_MAX}, got {self.limit}"
                )
        if self.order is not None and self.order not in ("asc", "desc"):
            raise InvalidArgumentError(f"order must be 'asc' or 'desc', got {self.order!r}")
        _check_text(self, "purpose", "after")

    def query(self) -> dict[str, str]:
        """The query string of ``GET /files`` for these parameters."""
        query: dict[str, str] = {}
        if self.purpose is not None:
            query["purpose"] = self.purpose
        if self.limit is not None:
            query["limit"] = str(self.limit)
        if self.order is not None:
            query["order"] = self.order
        if self.after is not None:
            query["after"] = self.after
        return query


class CallHook(Protocol):
    """What sees a call's effective parameters where the call starts (see ``call_hook``)."""

    def __call__(self, params: P, /) -> P:
        """Returns the parameters the call runs with, given those the caller asked for."""


#: Set by the sync twin around its call of an async method (``aikit_files._bridge``): the
#: first ``merge`` of that call hands the hook the call's checked parameters, once, and the call
#: runs with what it returns. The one place where a call's callbacks are known.
call_hook: ContextVar[CallHook | None] = ContextVar("aikit_files.call_hook", default=None)


def merge(
    cls: type[P], parameters: Parameters | Mapping[str, Any] | None, options: Mapping[str, Any]
) -> P:
    """Builds the effective parameters of a call: ``parameters`` overridden by ``**options``.

    ``parameters`` may be an instance of ``cls`` (or of a base of it), a mapping of its fields
    (4D passes plain objects), or None. The caller's object is never modified.

    Raises:
        InvalidArgumentError: an unknown option, or a field fails ``validate``.
    """
    merged = _merge(cls, parameters, options)
    hook = call_hook.get()
    if hook is None:
        return merged
    # NOTE: taken by the call's first merge only; what the call starts (its tasks, which copy
    # this context) merges without it.
    call_hook.set(None)
    return hook(merged)


def _merge(
    cls: type[P], parameters: Parameters | Mapping[str, Any] | None, options: Mapping[str, Any]
) -> P:
    if parameters is None and not options:
        # NOTE: nothing to merge or check: every field defaults to None, which is valid.
        return cls()
    names = {f.name for f in attrs.fields(cls)}
    values: dict[str, Any] = {}
    if parameters is None:
        pass
    elif isinstance(parameters, Parameters):
        values.update(
            (f.name, getattr(parameters, f.name))
            for f in attrs.fields(type(parameters))
            if f.name in names
        )
        # NOTE: a richer parameters object is accepted as long as the fields this call does not
        # take are left unset; a set one would be silently ignored, so it is an error.
        extra = {
            f.name
            for f in attrs.fields(type(parameters))
            if f.name not in names and getattr(parameters, f.name) is not None
        }
        if extra:
            raise InvalidArgumentError(
                f"{type(parameters).__name__} has fields this call does not take: {sorted(extra)}"
            )
    elif isinstance(parameters, Mapping):
        values.update(parameters)
    else:
        raise InvalidArgumentTypeError(
            f"parameters must be a {cls.__name__}, a mapping or None, "
            f"not {type(parameters).__name__}"
        )
    values.update(options)
    unknown = set(values) - names
    if unknown:
        raise InvalidArgumentTypeError(
            f"unexpected option(s) for this call: {', '.join(sorted(unknown))}"
        )
    merged = cls(**values)
    merged.validate()
    return merged


# --- The keyword options of each call, for type checkers (``**options: Unpack[...]``). ---
# NOTE: each TypedDict restates the ``__init__`` arguments of its Parameters class;
# tests/sync/test_options.py fails if a name or a type differs. The ``Blocking*`` ones leave the
# callbacks out: they type the sync twin's blocking form, which returns the value itself.


class BlockingOptions(TypedDict, total=False):
    """The fields of ``Parameters`` but the callbacks, as keyword options."""

    timeout: float | Timeout | None
    max_retries: int | None
    extra_headers: Mapping[str, str] | None


class CallbackOptions(TypedDict, total=False):
    """The callbacks of ``Parameters``, as keyword options."""

    on_terminate: Callback | None
    on_response: Callback | None
    on_error: Callback | None


class Options(BlockingOptions, CallbackOptions, total=False):
    """The fields of ``Parameters``, as keyword options."""


class BlockingFileOptions(BlockingOptions, total=False):
    """The fields of ``FileParameters`` but the callbacks, as keyword options."""

    expires_after: ExpiresAfter | Mapping[str, Any] | None
    filename: str | None
    content_type: str | None
    on_progress: ProgressCallback | None
    upload_threshold: int | None
    part_size: int | None
    max_concurrency: int | None
    resume: bool | str | os.PathLike[str] | None
    check: bool


class FileOptions(BlockingFileOptions, CallbackOptions, total=False):
    """The fields of ``FileParameters``, as keyword options."""


class BlockingDownloadOptions(BlockingOptions, total=False):
    """The fields of ``DownloadParameters`` but the callbacks, as keyword options."""

    on_progress: ProgressCallback | None


class DownloadOptions(BlockingDownloadOptions, CallbackOptions, total=False):
    """The fields of ``DownloadParameters``, as keyword options."""


class BlockingFileListOptions(BlockingOptions, total=False):
    """The fields of ``FileListParameters`` but the callbacks, as keyword options (and those of
    ``iterate``, which takes no callbacks)."""

    purpose: str | None
    limit: int | None
    order: str | None
    after: str | None


class FileListOptions(BlockingFileListOptions, CallbackOptions, total=False):
    """The fields of ``FileListParameters``, as keyword options."""
