"""The rules of every JSON Lines file, fed raw lines: UTF-8, one JSON object a line, no blank line,
no line over the limit the local server reads.

Sources: the Batch API's input format (https://platform.openai.com/docs/api-reference/batch/
request-input: "a JSONL file" whose each line is a request object) and the fine-tuning formats
(https://platform.openai.com/docs/api-reference/fine-tuning/chat-input: one example a line);
``json.org``/RFC 8259 for what JSON is: no ``NaN`` or ``Infinity``, and RFC 8259 section 8.1,
"JSON text ... MUST be encoded using UTF-8".
"""

from __future__ import annotations

import json
from typing import Any, Final, NoReturn

from ._problems import Problems

#: The purposes whose files are JSON Lines.
JSONL_PURPOSES: Final = frozenset({"batch", "fine-tune", "evals"})
#: The purposes whose files the API requires to be named ``*.jsonl`` (the server refuses others).
JSONL_NAMED_PURPOSES: Final = frozenset({"batch", "fine-tune"})

_BOM: Final = b"\xef\xbb\xbf"


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


_decode = json.JSONDecoder(parse_constant=_no_constant).decode


def parse_line(number: int, line: bytes, problems: Problems) -> dict[str, Any] | None:
    """The JSON object on line ``number``, or None after recording why there is none.

    Args:
        number: the line's number, from 1.
        line: the line's bytes, its end of line included or not.
        problems: where a problem goes.
    """
    if number == 1 and line.startswith(_BOM):
        problems.add(number, None, "the file starts with a byte order mark (BOM); save it without")
        line = line[len(_BOM) :]
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.add(number, None, f"not valid UTF-8 (byte {exc.start + 1} of the line)")
        return None
    if not text.strip():
        problems.add(number, None, "blank line: every line must hold one JSON object")
        return None
    try:
        value = _decode(text)
    except RecursionError:
        problems.add(number, None, "not valid JSON: nested too deeply")
        return None
    except ValueError as exc:
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        problems.add(number, None, f"not valid JSON: {message}")
        return None
    if not isinstance(value, dict):
        problems.add(number, None, f"a JSON {kind(value)}, not an object")
        return None
    return value


def kind(value: object) -> str:
    """The JSON name of a decoded value's type (``object``, ``array``, ``string``, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
