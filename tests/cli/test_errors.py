"""Every way a command fails: one line on stderr naming the problem (and the fix), exit status 1,
or 2 for a usage error; never a traceback, never the key."""

from __future__ import annotations

import json
import pathlib
import socket
from collections.abc import Callable

import pytest

import aikit_files as af
from aikit_files.cli import _commands, main
from aikit_files.cli._errors import Where, describe, where
from aikit_files.server import ServerThread
from aikit_files.testing import FaultProxy, Respond, Rule

from .conftest import FILE_LIMIT, KEY, Run

Cli = Callable[..., Run]
MakeFile = Callable[..., pathlib.Path]


@pytest.mark.usefixtures("env")
def test_a_missing_local_file_uploads_nothing(
    cli: Cli, api: af.Client, make_file: MakeFile, tmp_path: pathlib.Path
) -> None:
    there = make_file("there.txt")
    run = cli("upload", there, tmp_path / "missing.txt", "--purpose", "user_data")
    assert run.status == 1
    assert run.out == ""
    assert run.error_line == f"aikit-files: no such file: {tmp_path / 'missing.txt'}"
    assert api.files.list().data == []


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize(
    "command",
    [["get"], ["content"], ["wait"], ["delete"], ["download", "{tmp}/out.bin"]],
    ids=lambda c: c[0],
)
def test_an_unknown_id_is_named(cli: Cli, command: list[str], tmp_path: pathlib.Path) -> None:
    unknown = "file-0123456789abcdef0123456789abcdef"
    name, *rest = command
    run = cli(name, unknown, *(arg.format(tmp=tmp_path) for arg in rest))
    assert run.status == 1
    assert run.out == ""
    assert run.error_line == f"aikit-files: no such file: {unknown}"
    assert not (tmp_path / "out.bin").exists()


@pytest.mark.usefixtures("env")
def test_one_failure_among_several_leaves_the_others_done(
    cli: Cli, api: af.Client, make_file: MakeFile
) -> None:
    small = make_file("small.txt")
    big = make_file("big.bin", b"\0" * (FILE_LIMIT + 1))
    run = cli("upload", small, big, "--purpose", "user_data", "--json")
    assert run.status == 1
    uploaded, failed = (json.loads(line) for line in run.out.splitlines())
    assert failed == {"source": str(big), "error": failed["error"]}
    assert failed["error"].startswith("the server answered 413: ")
    assert [file.id for file in api.files.list().data] == [uploaded["id"]]
    assert run.error_line.startswith(f"aikit-files: {big}: the server answered 413: ")

    unknown = "file-0123456789abcdef0123456789abcdef"
    run = cli("delete", unknown, uploaded["id"])
    assert run.status == 1
    assert run.out == f"deleted {uploaded['id']}\n"
    assert run.error_line == f"aikit-files: no such file: {unknown}"
    run = cli("delete", unknown, unknown + "0")
    assert run.error_line == f"aikit-files: no such file: {unknown} (2 of 2 deletions failed)"


def test_an_unreachable_server_is_named_with_the_fix(cli: Cli, clean_env: None) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    run = cli("--api-key", KEY, "--base-url", url, "list")
    assert run.status == 1
    line = run.error_line
    assert line.startswith(f"aikit-files: cannot reach the server at {url} (cannot connect to ")
    assert line.endswith("check the URL, --base-url or OPENAI_BASE_URL")


@pytest.mark.usefixtures("clean_env")
def test_a_wrong_key_says_so_and_names_the_variable(
    cli: Cli, server: ServerThread, make_file: MakeFile
) -> None:
    wrong = "sk-wrong-Hh3kL0pQ"
    run = cli("--api-key", wrong, "--base-url", server.openai_base_url, "upload",
              make_file("a.txt"), "--purpose", "user_data")  # fmt: skip
    assert run.status == 1
    assert run.error_line == (
        f"aikit-files: the server at {server.openai_base_url} refused the API key (401: "
        "Incorrect API key provided.): pass the right key with --api-key or set OPENAI_API_KEY"
    )
    assert wrong not in run.err
    run = cli("--provider", "azure", "--api-key", wrong, "--base-url", server.azure_endpoint,
              "list")  # fmt: skip
    assert "set AZURE_OPENAI_API_KEY" in run.error_line
    assert wrong not in run.err


@pytest.mark.usefixtures("clean_env")
def test_a_missing_key_names_the_variable(cli: Cli, server: ServerThread) -> None:
    run = cli("--base-url", server.openai_base_url, "list")
    assert (run.status, run.error_line) == (
        1,
        "aikit-files: no API key: pass --api-key or set OPENAI_API_KEY",
    )
    run = cli("--provider", "azure", "list")
    assert run.error_line == (
        "aikit-files: Azure needs an endpoint: pass --base-url or set AZURE_OPENAI_ENDPOINT"
    )


@pytest.mark.usefixtures("env")
def test_an_azure_command_on_openai(cli: Cli) -> None:
    run = cli("import-url", "https://example.com/a.jsonl", "--filename", "a.jsonl",
              "--purpose", "fine-tune")  # fmt: skip
    assert run.status == 1
    assert run.error_line == (
        "aikit-files: import-url is Azure's files/import, which OpenAI lacks: pass --provider "
        "azure, or upload the file with 'aikit-files upload'"
    )


@pytest.mark.usefixtures("env")
def test_a_base_url_without_v1(cli: Cli, server: ServerThread) -> None:
    run = cli("--base-url", server.url, "list")
    assert run.status == 1
    assert run.error_line.startswith(f"aikit-files: the server at {server.url} has no such route")
    assert "(OpenAI's ends in /v1)" in run.error_line


@pytest.mark.usefixtures("env")
def test_refusals_and_server_errors_show_the_status(
    cli: Cli, server: ServerThread, make_file: MakeFile
) -> None:
    run = cli("upload", make_file("a.txt"), "--purpose", "no-such-purpose")
    assert run.status == 1
    assert run.error_line.startswith("aikit-files: the server answered 400: ")
    with FaultProxy(server.url, [Rule(Respond(500, retry_after_ms=1))]) as proxy:
        run = cli("--base-url", proxy.url + "/v1", "list")
    assert run.status == 1
    assert run.error_line.startswith("aikit-files: the server answered 500: ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "aikit-files: the following arguments are required: COMMAND"),
        (["frobnicate"], "aikit-files: argument COMMAND: invalid choice: 'frobnicate'"),
        (["upload", "a.txt"], "aikit-files upload: the following arguments are required: --purpose"),
        (["upload", "a", "b", "--purpose", "x", "--filename", "c"], "aikit-files upload: --filename names one file"),
        (["--json", "list", "--quiet"], "aikit-files list: --json and --quiet cannot be used together"),
        (["list", "--limit", "0"], "aikit-files list: argument --limit: must be from 1 to 10000, got 0"),
        (["list", "--limit", "10001"], "aikit-files list: argument --limit: must be from 1 to 10000, got 10001"),
        (["upload", "a", "--purpose", "x", "--expires-after", "60"], "aikit-files upload: argument --expires-after: must be whole seconds from 1 h to 30 d (3600 to 2592000 s), got '60'"),
        (["upload", "a", "--purpose", "x", "--expires-after", "31d"], "aikit-files upload: argument --expires-after: must be whole seconds from 1 h to 30 d"),
        (["upload", "a", "--purpose", "x", "--expires-after", "1 hour"], "aikit-files upload: argument --expires-after: not a duration: '1 hour' (try 90s, 30m, 1h or 7d)"),
        (["upload", "a", "--purpose", "x", "--part-size", "64X"], "aikit-files upload: argument --part-size: not a size: '64X' (try 512M or 10G)"),
        (["upload", "-", "--purpose", "x"], "aikit-files upload: PATH - reads stdin, which has no name: give the file's with --filename"),
        (["serve", "--idle-timeout", "nan"], "aikit-files serve: argument --idle-timeout: not a duration: 'nan'"),
        (["serve", "--idle-timeout", "0s"], "aikit-files serve: argument --idle-timeout: must be longer than 0 s, got '0s'"),
        (["serve", "--max-storage", "-5"], "aikit-files serve: argument --max-storage: not a size: '-5'"),
        (["serve", "--max-storage", "0.5"], "aikit-files serve: argument --max-storage: must be a whole number of bytes, 1 or more: '0.5'"),
        (["serve", "--port", "99999"], "aikit-files serve: argument --port: must be from 0 to 65535, got 99999 (--port 0 picks a free one)"),
        (["serve", "--port", "-1"], "aikit-files serve: argument --port: must be from 0 to 65535, got -1"),
        (["serve", "--port", "abc"], "aikit-files serve: argument --port: not an integer: 'abc'"),
        (["--provider", "aws", "list"], "aikit-files: argument --provider: invalid choice: 'aws'"),
        (["wait", "file-x", "--max-wait", "soon"], "aikit-files wait: argument --max-wait: not a duration: 'soon'"),
        (["get"], "aikit-files get: the following arguments are required: ID"),
    ],
)  # fmt: skip
def test_usage_errors_exit_2_on_one_line(
    cli: Cli, clean_env: None, argv: list[str], message: str
) -> None:
    run = cli(*argv)
    assert run.status == 2
    assert run.out == ""
    assert run.error_line.startswith(message)
    assert run.error_line.endswith("--help')")


def test_version_and_help_exit_0(cli: Cli) -> None:
    run = cli("--version")
    assert (run.status, run.out) == (0, f"aikit-files {af.__version__}\n")
    run = cli("upload", "--help")
    assert run.status == 0
    assert "--concurrency N" in run.out
    assert "--expires-after DURATION" in run.out
    assert "90s, 30m, 1h, 7d" in run.out
    run = cli("serve", "--help")
    assert "--max-storage SIZE" in run.out
    assert "powers of 1024" in run.out


def test_an_interrupt_exits_130_saying_so(
    cli: Cli, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*_: object) -> af.AsyncClient:
        raise KeyboardInterrupt

    monkeypatch.setattr(_commands, "client_for", interrupted)
    assert cli("list") == Run(130, "", "aikit-files: cancelled\n")


def test_an_unexpected_error_is_one_line_too(
    cli: Cli, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> af.AsyncClient:
        raise RuntimeError("a bug")

    monkeypatch.setattr(_commands, "client_for", broken)
    run = cli("list")
    assert (run.status, run.error_line) == (
        1,
        "aikit-files: unexpected error (RuntimeError): a bug",
    )


def test_the_key_is_masked_even_where_a_message_would_hold_it(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def echo(*_: object) -> af.AsyncClient:
        raise af.LocalIOError(f"cannot read {KEY}.txt")

    monkeypatch.setattr(_commands, "client_for", echo)
    assert main(["--api-key", KEY, "list"]) == 1
    assert capsys.readouterr().err == "aikit-files: cannot read ***.txt\n"


WHERE = Where("openai", "https://api.example.com/v1")


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (af.LocalIOError("cannot write /x: No space left"), "cannot write /x: No space left"),
        (af.FileProcessingError("the server failed to process file f"), "the server failed to process file f"),
        (af.PermissionDeniedError("no", status_code=403), "the API key may not do this (403: no)"),
        (af.RateLimitError("slow down", status_code=429, request_id="req_1"), "the server answered 429: slow down [request req_1]"),
        (af.APITimeoutError("the server sent nothing for 600 s (read timeout)"), "timed out talking to https://api.example.com/v1: the server sent nothing for 600 s (read timeout)"),
        (af.ClientClosedError("closed"), "closed"),
        (OSError(98, "Address already in use"), "[Errno 98] Address already in use"),
    ],
)  # fmt: skip
def test_each_kind_of_error_reads_as_one_line(error: BaseException, line: str) -> None:
    assert describe(error, WHERE) == line


def test_error_lines_name_the_url_without_its_credentials(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aikit_files.cli._arguments import build_parser

    def located(*argv: str) -> Where:
        return where(build_parser().parse_args([*argv, "list"]))

    assert located() == Where("openai", "https://api.openai.com/v1")
    assert located("--base-url", "http://user:pw@host:1/v1") == Where("openai", "http://host:1/v1")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env/v1")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com")
    assert located() == Where("openai", "http://env/v1")
    assert located("--provider", "azure") == Where("azure", "https://res.openai.azure.com")


def test_a_library_warning_is_one_clean_line_never_a_raw_log_record(
    cli: Cli, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    def warns(*_: object) -> af.AsyncClient:
        try:
            raise ConnectionResetError("reset by peer")
        except ConnectionResetError:
            logging.getLogger("aikit_files._uploads").warning(
                "could not cancel Upload %s (key %s)", "upload_1", KEY, exc_info=True
            )
        raise af.LocalIOError("stopped")

    monkeypatch.setattr(_commands, "client_for", warns)
    run = cli("--api-key", KEY, "list")
    assert run.status == 1
    assert run.err.splitlines() == [
        "aikit-files: warning: could not cancel Upload upload_1 (key ***)",
        "aikit-files: stopped",
    ]
