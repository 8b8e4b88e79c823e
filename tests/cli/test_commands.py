"""Every command against the local server, in-process: ``--json`` documents compared with what
the server holds, ``--quiet`` ids, and the text for people."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable
from typing import Any

import attrs
import pytest

import aikit_files as af
from aikit_files.cli._demo import serving_directory
from aikit_files.server import ServerThread

from .conftest import Run

Cli = Callable[..., Run]
MakeFile = Callable[..., pathlib.Path]

pytestmark = pytest.mark.usefixtures("env")


def wire(file: af.OpenAIFile) -> dict[str, Any]:
    return attrs.asdict(file)


# --- upload ---


def test_upload_json_is_the_file_the_server_holds(
    cli: Cli, api: af.Client, make_file: MakeFile
) -> None:
    path = make_file("train.jsonl", '{"messages": []}\n')
    run = cli("--json", "upload", path, "--purpose", "fine-tune")
    assert run.status == 0
    document = json.loads(run.out)
    assert document == wire(api.files.retrieve(document["id"]))
    assert (document["filename"], document["bytes"], document["purpose"]) == (
        "train.jsonl",
        path.stat().st_size,
        "fine-tune",
    )
    assert api.files.content(document["id"]) == path.read_bytes()


def jsonl(text: str) -> list[dict[str, Any]]:
    """The objects of JSON Lines: one a line, each line one object."""
    return [json.loads(line) for line in text.splitlines()]


def test_several_uploads_at_once_are_json_lines_in_the_order_given(
    cli: Cli, api: af.Client, make_file: MakeFile
) -> None:
    paths = [make_file(f"part-{i}.txt", f"part {i}\n" * (1000 * i + 1)) for i in range(3)]
    # NOTE: the global options may also follow the command.
    run = cli("upload", *paths, "--purpose", "user_data", "--concurrency", "2", "--json")
    assert run.status == 0
    documents = jsonl(run.out)
    assert [d["filename"] for d in documents] == ["part-0.txt", "part-1.txt", "part-2.txt"]
    held = {file.id: wire(file) for file in api.files.list().data}
    assert {d["id"]: d for d in documents} == held
    for document, path in zip(documents, paths, strict=True):
        assert api.files.content(document["id"]) == path.read_bytes()


def test_upload_quiet_prints_only_ids(cli: Cli, api: af.Client, make_file: MakeFile) -> None:
    paths = [make_file("a.txt"), make_file("b.txt")]
    run = cli("-q", "upload", *paths, "--purpose", "assistants")
    assert run.status == 0
    assert run.err == ""
    assert sorted(run.out.split()) == sorted(file.id for file in api.files.list().data)
    assert len(run.out.splitlines()) == 2


def test_upload_text_names_the_path_and_the_id(
    cli: Cli, api: af.Client, make_file: MakeFile
) -> None:
    path = make_file("a.txt", b"x" * 2048)
    run = cli("upload", path, "--purpose", "assistants")
    (file,) = api.files.list().data
    assert run.out == f"uploaded {path} as {file.id} (2 KiB (2,048 bytes), assistants)\n"


def test_upload_filename_and_expires_after_reach_the_server(
    cli: Cli, api: af.Client, make_file: MakeFile
) -> None:
    path = make_file("local-name.txt")
    run = cli(
        "upload", path, "--purpose", "user_data", "--filename", "remote.txt",
        "--expires-after", "2h", "--json",
    )  # fmt: skip
    assert run.status == 0
    file = api.files.retrieve(json.loads(run.out)["id"])
    assert file.filename == "remote.txt"
    assert file.expires_at == file.created_at + 7200


def test_resume_and_concurrency_are_the_large_upload_settings(
    cli: Cli, make_file: MakeFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []
    create = af.AsyncFilesAPI.create

    def spy(self: af.AsyncFilesAPI, file: Any, purpose: str, **options: Any) -> Any:
        seen.append(options)
        return create(self, file, purpose, **options)

    monkeypatch.setattr(af.AsyncFilesAPI, "create", spy)
    path = make_file("a.txt")
    assert (
        cli("upload", path, "--purpose", "user_data", "--resume", "--concurrency", "3").status == 0
    )
    assert cli("upload", path, "--purpose", "user_data").status == 0
    assert seen[0]["resume"] is None  # a small file: no journal
    assert seen[0]["max_concurrency"] == 3
    assert seen[1]["resume"] is None
    assert seen[1]["max_concurrency"] is None


# --- list, get ---


@pytest.fixture
def three(api: af.Client) -> list[af.OpenAIFile]:
    """Three files, oldest first."""
    return [
        api.files.create(b"one", "assistants", filename="one.txt"),
        api.files.create(b"two", "user_data", filename="two.txt"),
        api.files.create(b"three", "assistants", filename="three.txt"),
    ]


def test_list_json_is_the_servers_page(
    cli: Cli, api: af.Client, three: list[af.OpenAIFile]
) -> None:
    run = cli("list", "--json")
    assert run.status == 0
    assert json.loads(run.out) == attrs.asdict(api.files.list())
    run = cli("list", "--json", "--purpose", "assistants", "--order", "asc")
    assert [d["id"] for d in json.loads(run.out)["data"]] == [three[0].id, three[2].id]


def test_list_quiet_and_paging(cli: Cli, three: list[af.OpenAIFile]) -> None:
    newest_first = [file.id for file in reversed(three)]
    assert cli("list", "-q").out.split() == newest_first
    page = cli("list", "--limit", "1")
    assert page.out.splitlines()[1].startswith(newest_first[0])
    assert page.err.splitlines() == [
        "1 file",
        f"more files follow: --after {newest_first[0]}, or --all",
    ]
    assert cli("-q", "list", "--limit", "1", "--after", newest_first[0]).out.split() == [
        newest_first[1]
    ]
    every = json.loads(cli("list", "--all", "--limit", "1", "--json").out)
    assert [d["id"] for d in every["data"]] == newest_first
    assert (every["first_id"], every["last_id"], every["has_more"]) == (
        newest_first[0],
        newest_first[-1],
        False,
    )


def test_list_text_is_aligned_columns(cli: Cli, three: list[af.OpenAIFile]) -> None:
    run = cli("list")
    header, *rows = run.out.splitlines()
    assert header.split() == ["ID", "CREATED", "(UTC)", "BYTES", "PURPOSE", "STATUS", "FILENAME"]
    assert [row.split()[0] for row in rows] == [file.id for file in reversed(three)]
    assert rows[0].split()[-2:] == ["processed", "three.txt"]
    assert len({row.index("processed") for row in rows}) == 1
    assert run.err == "3 files\n"


def test_get(cli: Cli, api: af.Client, three: list[af.OpenAIFile]) -> None:
    run = cli("get", three[1].id, "--json")
    assert json.loads(run.out) == wire(api.files.retrieve(three[1].id))
    text = cli("get", three[1].id).out.splitlines()
    assert text[0].split() == ["id", three[1].id]
    assert "filename        two.txt" in text
    assert any(line.startswith("bytes") and line.endswith(" 3 bytes") for line in text)
    assert "status_details  -" in text
    assert cli("-q", "get", three[1].id).out == f"{three[1].id}\n"


# --- delete ---


def test_delete_several(cli: Cli, api: af.Client, three: list[af.OpenAIFile]) -> None:
    run = cli("--json", "delete", three[0].id, three[2].id)
    assert run.status == 0
    assert jsonl(run.out) == [
        {"id": three[0].id, "object": "file", "deleted": True},
        {"id": three[2].id, "object": "file", "deleted": True},
    ]
    assert [file.id for file in api.files.list().data] == [three[1].id]
    assert cli("delete", three[1].id).out == f"deleted {three[1].id}\n"
    assert api.files.list().data == []


# --- content, download ---


def test_content_is_the_bytes_and_nothing_else(
    api: af.Client, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    from aikit_files.cli import main

    data = bytes(range(256)) * 64 + b"\xff\xfe not utf-8"
    file = api.files.create(data, "user_data", filename="blob.bin")
    assert main(["content", file.id]) == 0
    captured = capsysbinary.readouterr()
    assert captured.out == data
    assert captured.err == b""


def test_download_to_a_path_and_into_a_directory(
    cli: Cli, api: af.Client, tmp_path: pathlib.Path
) -> None:
    data = b"0123456789" * 10_000
    file = api.files.create(data, "user_data", filename="numbers.txt")
    target = tmp_path / "copy.txt"
    run = cli("download", file.id, target)
    assert run.status == 0
    assert target.read_bytes() == data
    assert run.out == f"downloaded {file.id} to {target} (97.7 KiB (100,000 bytes))\n"
    folder = tmp_path / "folder"
    folder.mkdir()
    run = cli("download", file.id, folder, "--json")
    assert json.loads(run.out) == {
        "id": file.id,
        "path": str(folder / "numbers.txt"),
        "bytes": len(data),
    }
    assert (folder / "numbers.txt").read_bytes() == data


# --- wait, import-url (Azure) ---


def test_wait_on_a_processed_file(cli: Cli, api: af.Client) -> None:
    file = api.files.create(b"x", "user_data")
    run = cli("wait", file.id, "--json")
    assert json.loads(run.out) == wire(api.files.retrieve(file.id))
    assert cli("wait", file.id).out == f"{file.id} is processed\n"


def test_import_url_then_wait_on_azure(
    cli: Cli, env: ServerThread, api: af.Client, tmp_path: pathlib.Path
) -> None:
    public = tmp_path / "public"
    public.mkdir()
    (public / "train.jsonl").write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    (public / "broken.jsonl").write_text("not json\n")
    azure = ("--provider", "azure")
    with serving_directory(public) as root:
        run = cli(*azure, "--json", "import-url", f"{root}/train.jsonl",
                  "--filename", "train.jsonl", "--purpose", "fine-tune")  # fmt: skip
        assert run.status == 0
        imported = json.loads(run.out)
        assert imported["status"] == "pending"
        assert imported["filename"] == "train.jsonl"
        run = cli(*azure, "wait", imported["id"], "--json")
        assert run.status == 0
        assert json.loads(run.out)["status"] == "processed"
        assert api.files.content(imported["id"]) == (public / "train.jsonl").read_bytes()

        run = cli(*azure, "-q", "import-url", f"{root}/broken.jsonl",
                  "--filename", "broken.jsonl", "--purpose", "fine-tune")  # fmt: skip
        broken = run.out.strip()
        assert broken.startswith("file-")
        run = cli(*azure, "wait", broken, "--max-wait", "0.01")
        assert run.status == 1
        assert "wait longer with --max-wait" in run.error_line
        run = cli(*azure, "wait", broken)
    assert run.status == 1
    assert run.out == ""
    assert f"the server failed to process file {broken}" in run.error_line
    assert "Line 1 is not valid JSON" in run.error_line


def test_import_url_text_says_how_to_follow_it(cli: Cli, tmp_path: pathlib.Path) -> None:
    (tmp_path / "a.jsonl").write_text("{}\n")
    with serving_directory(tmp_path) as root:
        run = cli("--provider", "azure", "import-url", f"{root}/a.jsonl",
                  "--filename", "a.jsonl", "--purpose", "fine-tune")  # fmt: skip
        assert run.status == 0
        assert run.out.startswith("importing a.jsonl as file-")
        follow = run.out.partition("follow it with: aikit-files ")[2].split()
        assert follow[:3] == ["--provider", "azure", "wait"]
        # NOTE: followed to its end: a server stopped while an import starts may leak its
        # temporary file (a bug of the server's, reported).
        assert cli(*follow).out == f"{follow[-1]} is processed\n"


# --- one JSON shape whatever the count; the command line's words ---


@pytest.mark.parametrize("count", [1, 3])
def test_upload_and_delete_json_lines_whatever_the_count(
    cli: Cli, api: af.Client, make_file: MakeFile, count: int
) -> None:
    paths = [make_file(f"f{i}.txt", f"{i}\n") for i in range(count)]
    run = cli("--json", "upload", *paths, "--purpose", "user_data")
    assert run.status == 0
    lines = run.out.splitlines()
    assert len(lines) == count  # one compact object a line, never an array nor an indent
    uploaded = [json.loads(line) for line in lines]
    assert [d["filename"] for d in uploaded] == [path.name for path in paths]
    run = cli("--json", "delete", *(d["id"] for d in uploaded))
    assert [json.loads(line) for line in run.out.splitlines()] == [
        {"id": d["id"], "object": "file", "deleted": True} for d in uploaded
    ]
    assert api.files.list().data == []


def test_get_list_and_wait_are_one_document_whatever_the_count(cli: Cli, api: af.Client) -> None:
    for count in (0, 1, 2):
        document = json.loads(cli("--json", "list").out)
        assert (document["object"], len(document["data"])) == ("list", count)
        api.files.create(b"x", "user_data", filename=f"{count}.txt")


def test_a_batch_file_over_its_limit_is_refused_before_sending(
    cli: Cli, api: af.Client, tmp_path: pathlib.Path
) -> None:
    big = tmp_path / "requests.jsonl"
    with big.open("wb") as handle:
        handle.truncate(600 * 1024 * 1024)  # sparse
    run = cli("upload", big, "--purpose", "batch")
    assert run.status == 1
    assert run.error_line == (
        "aikit-files: the file holds 600 MiB (629,145,600 bytes), more than the API accepts "
        "for purpose 'batch' (200 MiB (209,715,200 bytes))"
    )
    assert api.files.list().data == []


def test_messages_name_the_command_lines_words(cli: Cli, make_file: MakeFile) -> None:
    run = cli("--provider", "azure", "import-url", "ftp://example.com/a.jsonl",
              "--filename", "a.jsonl", "--purpose", "fine-tune")  # fmt: skip
    assert run.error_line == "aikit-files: URL must be an http:// or https:// URL with a host"
    run = cli("upload", make_file("a.txt"), "--purpose", "user_data", "--part-size", "65M")
    assert run.status == 2  # a usage error, found by the parser
    assert run.error_line.startswith(
        "aikit-files upload: argument --part-size: must be at most 64 MiB (67,108,864 bytes)"
    )
    run = cli("--base-url", "notaurl", "list")
    assert run.error_line.startswith("aikit-files: --base-url must be an http:// or https:// URL")
    run = cli("get", "bad/id")
    assert run.error_line.startswith("aikit-files: ID must not be '.' or contain '/'")
    for line in (run.err, cli("get", "bad/id").err):
        assert "content_url" not in line
        assert "with create" not in line
        assert "file_id" not in line


def test_content_output_saves_to_a_path(cli: Cli, api: af.Client, tmp_path: pathlib.Path) -> None:
    file = api.files.create(b"\0binary", "user_data", filename="b.bin")
    run = cli("content", file.id, "--output", tmp_path / "b.bin")
    assert run.status == 0
    assert (tmp_path / "b.bin").read_bytes() == b"\0binary"
