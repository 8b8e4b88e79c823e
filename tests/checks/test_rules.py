"""The format rules of ``check_file``, fed bytes: a valid file of each kind passes, and each rule
broken once is reported on the right line, naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest

import aikit_files as af
from aikit_files._checks.batch import BATCH_ENDPOINTS, MAX_EMBEDDING_INPUTS, MAX_REQUESTS
from aikit_files._checks.fine_tune import MIN_EXAMPLES


def jsonl(*records: object) -> bytes:
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


def request(number: int, url: str = "/v1/chat/completions", **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "custom_id": f"request-{number}",
        "method": "POST",
        "url": url,
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "2+2?"}]},
    }
    record.update(changes)
    return {key: value for key, value in record.items() if value is not ...}


def chat(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    base = [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]
    return {"messages": list(messages) or base, **extra}


def only_problem(check: af.FileCheck) -> af.FileProblem:
    assert not check.ok
    assert check.problem_count == 1, check.problems
    return check.problems[0]


# --- batch ---


def test_a_valid_batch_file_passes_with_what_it_holds() -> None:
    check = af.check_file(jsonl(*(request(n) for n in range(3))), "batch")
    assert check.ok
    assert check.problems == []
    assert check.problem_count == 0
    assert (check.lines, check.requests, check.endpoint) == (3, 3, "/v1/chat/completions")
    assert check.bytes == len(jsonl(*(request(n) for n in range(3))))
    assert (check.format, check.examples) == (None, None)


@pytest.mark.parametrize("url", BATCH_ENDPOINTS)
def test_every_batch_endpoint_is_accepted(url: str) -> None:
    assert af.check_file(jsonl(request(1, url), request(2, url)), "batch").endpoint == url


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"custom_id": ...}, "custom_id", "missing"),
        ({"custom_id": 7}, "custom_id", "string"),
        ({"method": "GET"}, "method", "'POST'"),
        ({"method": ...}, "method", "missing"),
        ({"url": "/v1/files"}, "url", "not an endpoint"),
        ({"url": 3}, "url", "string"),
        ({"body": [1]}, "body", "array"),
        ({"body": ...}, "body", "missing"),
    ],
)
def test_each_broken_request_field_is_named_on_its_line(
    changes: dict[str, Any], field: str, words: str
) -> None:
    data = jsonl(request(1), request(2), request(3, **changes))
    problem = only_problem(af.check_file(data, "batch"))
    assert (problem.line, problem.field) == (3, field)
    assert words in problem.message


def test_a_repeated_custom_id_names_its_first_line() -> None:
    data = jsonl(request(1), request(2), request(3), request(4, custom_id="request-2"))
    problem = only_problem(af.check_file(data, "batch"))
    assert (problem.line, problem.field) == (4, "custom_id")
    assert "first on line 2" in problem.message


def test_a_long_repeated_custom_id_is_found_too() -> None:
    long_id = "x" * 500
    data = jsonl(request(1, custom_id=long_id), request(2), request(3, custom_id=long_id))
    assert only_problem(af.check_file(data, "batch")).line == 3


def test_a_second_endpoint_is_a_problem_naming_the_first() -> None:
    data = jsonl(request(1), request(2, "/v1/embeddings"))
    problem = only_problem(af.check_file(data, "batch"))
    assert (problem.line, problem.field) == (2, "url")
    assert "'/v1/chat/completions' (line 1)" in problem.message


def test_more_requests_than_the_api_takes() -> None:
    line = json.dumps(request(0)).encode()
    data = b"".join(
        line.replace(b"request-0", f"r{n}".encode()) + b"\n" for n in range(MAX_REQUESTS + 2)
    )
    check = af.check_file(data, "batch")
    problem = only_problem(check)
    assert problem.line == MAX_REQUESTS + 1
    assert "50,000" in problem.message
    assert check.requests == MAX_REQUESTS + 2


def test_embedding_inputs_are_counted_over_the_file() -> None:
    half = MAX_EMBEDDING_INPUTS // 2
    body = {"model": "text-embedding-3-small", "input": ["a"] * half}
    data = jsonl(
        request(1, "/v1/embeddings", body=body),
        request(2, "/v1/embeddings", body=body),
        request(3, "/v1/embeddings", body={"model": "m", "input": "one more"}),
    )
    problem = only_problem(af.check_file(data, "batch"))
    assert (problem.line, problem.field) == (3, "body.input")


def test_a_token_array_is_one_embedding_input() -> None:
    body = {"model": "m", "input": list(range(MAX_EMBEDDING_INPUTS + 5))}
    assert af.check_file(jsonl(request(1, "/v1/embeddings", body=body)), "batch").ok


# --- any JSON Lines purpose ---


@pytest.mark.parametrize("purpose", ["batch", "fine-tune", "evals"])
@pytest.mark.parametrize(
    ("line", "words"),
    [
        (b"\n", "blank line"),
        (b"   \r\n", "blank line"),
        (b"[1, 2]\n", "array, not an object"),
        (b'"text"\n', "string, not an object"),
        (b"{'single': 1}\n", "not valid JSON"),
        (b'{"a": NaN}\n', "not valid JSON"),
        (b'{"a": "\xff"}\n', "UTF-8"),
    ],
)
def test_a_line_that_is_not_one_json_object(purpose: str, line: bytes, words: str) -> None:
    good = jsonl(request(1)) if purpose == "batch" else jsonl(*[chat()] * MIN_EXAMPLES)
    check = af.check_file(good + line, purpose)
    problem = only_problem(check)
    assert problem.line == check.lines
    assert problem.field is None
    assert words in problem.message


def test_a_byte_order_mark_is_reported_and_the_line_still_read() -> None:
    check = af.check_file(b"\xef\xbb\xbf" + jsonl(request(1)), "batch")
    problem = only_problem(check)
    assert problem.line == 1
    assert "byte order mark" in problem.message
    assert check.requests == 1


def test_an_empty_file() -> None:
    problem = af.check_file(b"", "evals").problems[0]
    assert problem.line is None
    assert "empty" in problem.message


def test_the_last_line_may_lack_its_end_of_line() -> None:
    assert af.check_file(jsonl(request(1), request(2)).rstrip(b"\n"), "batch").ok


@pytest.mark.parametrize(("filename", "ok"), [("requests.jsonl", True), ("requests.json", False)])
def test_batch_and_fine_tune_files_are_named_jsonl(filename: str, ok: bool) -> None:
    check = af.check_file(jsonl(request(1)), "batch", filename=filename)
    assert check.ok is ok
    if not ok:
        assert "*.jsonl" in only_problem(check).message


def test_only_the_first_hundred_problems_are_listed_and_all_counted() -> None:
    check = af.check_file(b"[]\n" * 250, "evals")
    assert check.problem_count == 250
    assert len(check.problems) == 100
    assert [p.line for p in check.problems] == list(range(1, 101))


def test_a_purpose_without_format_rules_only_counts_bytes() -> None:
    check = af.check_file(b"%PDF-1.7 whatever", "assistants")
    assert check.ok
    assert (check.bytes, check.lines) == (17, None)


# --- fine-tune ---


def examples(first: dict[str, Any], count: int = MIN_EXAMPLES) -> bytes:
    return jsonl(*[first] * count)


@pytest.mark.parametrize(
    ("record", "format"),
    [
        (chat(), "chat"),
        (
            chat(
                tools=[{"type": "function", "function": {"name": "f"}}], parallel_tool_calls=False
            ),
            "chat",
        ),
        (
            {
                "input": {"messages": [{"role": "user", "content": "hi"}]},
                "preferred_output": [{"role": "assistant", "content": "hello"}],
                "non_preferred_output": [{"role": "assistant", "content": "go away"}],
            },
            "preference",
        ),
        (
            {"messages": [{"role": "user", "content": "SMILES?"}], "reference_answer": {"n": 5}},
            "reinforcement",
        ),
        ({"prompt": "2+2", "completion": "4"}, "completion"),
    ],
)
def test_each_fine_tuning_format_is_detected_and_passes(
    record: dict[str, Any], format: str
) -> None:
    check = af.check_file(examples(record), "fine-tune")
    assert check.ok, check.problems
    assert (check.format, check.examples, check.lines) == (format, MIN_EXAMPLES, MIN_EXAMPLES)
    assert (check.endpoint, check.requests) == (None, None)


def test_fewer_than_ten_examples() -> None:
    check = af.check_file(examples(chat(), MIN_EXAMPLES - 1), "fine-tune")
    problem = only_problem(check)
    assert problem.line is None
    assert "at least 10" in problem.message


def test_a_line_in_another_format_than_the_first() -> None:
    data = examples(chat()) + jsonl({"prompt": "a", "completion": "b"})
    problem = only_problem(af.check_file(data, "fine-tune"))
    assert problem.line == MIN_EXAMPLES + 1
    assert "completion example in a file of chat examples" in problem.message


@pytest.mark.parametrize(
    ("record", "field", "words"),
    [
        (chat({"role": "user", "content": "hi"}), "messages", "no assistant message"),
        ({"messages": []}, "messages", "empty"),
        ({"messages": "hi"}, "messages", "string"),
        (
            chat({"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}),
            "messages[0].role",
            "'robot' is not a role",
        ),
        (
            chat({"content": "x"}, {"role": "assistant", "content": "y"}),
            "messages[0].role",
            "missing",
        ),
        (
            chat({"role": "user"}, {"role": "assistant", "content": "y"}),
            "messages[0].content",
            "needs content",
        ),
        (
            chat({"role": "user", "content": "x"}, {"role": "assistant"}),
            "messages[1].content",
            "content or tool_calls",
        ),
        (
            chat(
                {"role": "user", "content": "x"}, {"role": "assistant", "content": "y", "weight": 2}
            ),
            "messages[1].weight",
            "0 or 1",
        ),
        (
            chat(
                {"role": "user", "content": "x"},
                {"role": "assistant", "content": "y", "weight": True},
            ),
            "messages[1].weight",
            "0 or 1",
        ),
        (chat(tools=[{"type": "function"}]), "tools[0]", "function.name"),
        (chat(tools={"a": 1}), "tools", "array of tools"),
        (chat(parallel_tool_calls="yes"), "parallel_tool_calls", "true or false"),
        ({"prompt": "a", "completion": 4}, "completion", "string"),
        ({"input": "hi", "preferred_output": [], "non_preferred_output": []}, "input", "object"),
    ],
)
def test_each_broken_example_is_named_on_its_line(
    record: dict[str, Any], field: str, words: str
) -> None:
    good = (
        chat()
        if "messages" in record
        else ({"prompt": "a", "completion": "b"} if "prompt" in record else None)
    )
    lines = [good] * (MIN_EXAMPLES - 1) + [record] if good else [record] * MIN_EXAMPLES
    check = af.check_file(jsonl(*lines), "fine-tune")
    assert not check.ok
    problem = check.problems[0]
    assert (problem.field, problem.line) == (field, 1 if good is None else MIN_EXAMPLES)
    assert words in problem.message


def test_a_preference_example_needs_one_assistant_output_each() -> None:
    record = {
        "input": {"messages": [{"role": "user", "content": "hi"}]},
        "preferred_output": [{"role": "user", "content": "hello"}],
        "non_preferred_output": [],
    }
    check = af.check_file(examples(record), "fine-tune")
    fields = {problem.field for problem in check.problems if problem.line == 1}
    assert fields == {"preferred_output[0].role", "non_preferred_output"}


def test_a_line_of_no_known_format() -> None:
    check = af.check_file(examples(chat()) + jsonl({"text": "hello"}), "fine-tune")
    problem = only_problem(check)
    assert problem.line == MIN_EXAMPLES + 1
    assert "not a training example" in problem.message
