"""The fine-tuning rules for a training file, fed one decoded line at a time.

Sources: the per-line schemas of the OpenAPI spec (openai/openai-openapi; the ``manual_spec``
branch and its successors): ``FineTuneChatRequestInput`` (``messages``, at least one, of the
system, user, assistant, tool and function messages; optional ``tools``, ``parallel_tool_calls``,
``functions``), ``FineTuneChatCompletionRequestAssistantMessage`` (``weight``: 0 or 1),
``FineTunePreferenceRequestInput`` (``input.messages``, ``preferred_output`` and
``non_preferred_output``, one assistant message each), ``FineTuneReinforcementRequestInput``
(``messages`` required, ``tools``, any other key free for the grader) and
``FineTuneCompletionRequestInput`` (``prompt``, ``completion``); and the fine-tuning guide
(https://platform.openai.com/docs/guides/fine-tuning: "at least 10 examples", and each chat
example needs an assistant message to learn from).
"""

from __future__ import annotations

from typing import Any, Final

from ._problems import Problems
from .jsonl import kind

#: "To fine-tune a model, you are required to provide at least 10 examples" (the guide).
MIN_EXAMPLES: Final = 10
#: The roles a training conversation may hold (``ChatCompletionRequest*Message``).
ROLES: Final = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
#: The keys of a supervised chat example; any other key makes a reinforcement example.
CHAT_KEYS: Final = frozenset({"messages", "tools", "parallel_tool_calls", "functions"})
#: The keys that mark a preference (DPO) example.
PREFERENCE_KEYS: Final = frozenset({"input", "preferred_output", "non_preferred_output"})
#: The keys that mark a legacy completions example.
COMPLETION_KEYS: Final = frozenset({"prompt", "completion"})


def detect_format(record: dict[str, Any]) -> str | None:
    """The training format an example is written in, or None when no format fits."""
    keys = record.keys()
    if not PREFERENCE_KEYS.isdisjoint(keys):
        return "preference"
    if "messages" in keys:
        return "chat" if keys <= CHAT_KEYS else "reinforcement"
    if not COMPLETION_KEYS.isdisjoint(keys):
        return "completion"
    return None


class FineTuneRules:
    """Checks each example of a fine-tuning file, all in the format of the first, then the
    number of examples."""

    def __init__(self, problems: Problems) -> None:
        self._problems = problems
        self.format: str | None = None
        self._format_line = 0
        self.examples = 0

    def line(self, number: int, record: dict[str, Any]) -> None:
        """Checks the example on line ``number``."""
        found = detect_format(record)
        if found is None:
            self._problems.add(
                number,
                None,
                "not a training example: expected 'messages' (chat or reinforcement), "
                "'input' with 'preferred_output' and 'non_preferred_output' (preference), "
                "or 'prompt' and 'completion'",
            )
            return
        self.examples += 1
        if self.format is None:
            self.format, self._format_line = found, number
        elif found != self.format:
            self._problems.add(
                number,
                None,
                f"a {found} example in a file of {self.format} examples (from line "
                f"{self._format_line}): every line must be in one format",
            )
            return
        check = _CHECKS[found]
        check(self._problems, number, record)

    def finish(self) -> None:
        """Checks the file as a whole, once every line was read."""
        if self.examples < MIN_EXAMPLES:
            self._problems.add(
                None,
                None,
                f"{self.examples} training example{'' if self.examples == 1 else 's'}: "
                f"fine-tuning needs at least {MIN_EXAMPLES}",
            )


def _messages(
    problems: Problems, number: int, field: str, value: object, *, need_assistant: bool
) -> None:
    """Checks a list of chat messages at ``field``."""
    if not isinstance(value, list) or not value:
        shown = "missing" if value is None else f"a JSON {kind(value)}"
        if isinstance(value, list):
            shown = "empty"
        problems.add(number, field, f"must be a non-empty array of messages, not {shown}")
        return
    assistants = 0
    for index, message in enumerate(value):
        where = f"{field}[{index}]"
        if not isinstance(message, dict):
            problems.add(number, where, f"must be a message object, not a JSON {kind(message)}")
            continue
        role = message.get("role")
        if role not in ROLES:
            shown = "missing" if role is None else repr(role)
            problems.add(
                number, f"{where}.role", f"{shown} is not a role ({', '.join(sorted(ROLES))})"
            )
            continue
        if role == "assistant":
            assistants += 1
            _assistant(problems, number, where, message)
        elif message.get("content") is None:
            problems.add(number, f"{where}.content", f"missing: a {role} message needs content")
    if need_assistant and assistants == 0:
        problems.add(
            number, field, "no assistant message: an example needs one for the model to learn"
        )


def _assistant(problems: Problems, number: int, where: str, message: dict[str, Any]) -> None:
    """Checks an assistant message: something said or called, and a ``weight`` of 0 or 1."""
    if (
        message.get("content") is None
        and not message.get("tool_calls")
        and not message.get("function_call")
    ):
        problems.add(
            number, f"{where}.content", "missing: an assistant message needs content or tool_calls"
        )
    if "weight" in message:
        weight = message["weight"]
        if isinstance(weight, bool) or weight not in (0, 1):
            problems.add(number, f"{where}.weight", f"must be 0 or 1, not {weight!r}")


def _tools(problems: Problems, number: int, prefix: str, record: dict[str, Any]) -> None:
    """Checks the optional ``tools`` (function tools, each named) and ``parallel_tool_calls``
    of ``record``, whose fields are named after ``prefix`` (``""`` or ``"input."``)."""
    field = f"{prefix}tools"
    tools = record.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            problems.add(number, field, f"must be an array of tools, not a JSON {kind(tools)}")
        else:
            for index, tool in enumerate(tools):
                function = tool.get("function") if isinstance(tool, dict) else None
                name = function.get("name") if isinstance(function, dict) else None
                if not isinstance(name, str) or not name:
                    problems.add(
                        number,
                        f"{field}[{index}]",
                        "must be a tool object with function.name (a non-empty string)",
                    )
    parallel = record.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        problems.add(
            number, f"{prefix}parallel_tool_calls", f"must be true or false, not {parallel!r}"
        )


def _chat(problems: Problems, number: int, record: dict[str, Any]) -> None:
    _messages(problems, number, "messages", record.get("messages"), need_assistant=True)
    _tools(problems, number, "", record)


def _reinforcement(problems: Problems, number: int, record: dict[str, Any]) -> None:
    _messages(problems, number, "messages", record.get("messages"), need_assistant=False)
    _tools(problems, number, "", record)


def _preference(problems: Problems, number: int, record: dict[str, Any]) -> None:
    given = record.get("input")
    if not isinstance(given, dict):
        shown = "missing" if given is None else f"a JSON {kind(given)}"
        problems.add(number, "input", f"must be an object with messages, not {shown}")
    else:
        _messages(problems, number, "input.messages", given.get("messages"), need_assistant=False)
        _tools(problems, number, "input.", given)
    for field in ("preferred_output", "non_preferred_output"):
        output = record.get(field)
        if not isinstance(output, list) or len(output) != 1:
            problems.add(number, field, "must be an array of exactly one assistant message")
            continue
        message = output[0]
        if not isinstance(message, dict) or message.get("role") != "assistant":
            problems.add(number, f"{field}[0].role", "must be 'assistant'")
        else:
            _assistant(problems, number, f"{field}[0]", message)


def _completion(problems: Problems, number: int, record: dict[str, Any]) -> None:
    for field in ("prompt", "completion"):
        value = record.get(field)
        if not isinstance(value, str):
            shown = "missing" if value is None else f"a JSON {kind(value)}"
            problems.add(number, field, f"must be a string, not {shown}")


_CHECKS = {
    "chat": _chat,
    "reinforcement": _reinforcement,
    "preference": _preference,
    "completion": _completion,
}
