"""The sync wrapper's typing: what a type checker infers, and that the blocking form of each
method lists every option.

``check_inferred_types`` is never run: mypy (part of ``make test``) checks its ``assert_type``s.
"""

from __future__ import annotations

import concurrent.futures
import inspect
import pathlib
from typing import assert_type

import attrs
import pytest

import aikit_files as af
from aikit_files._params import (
    DownloadOptions,
    FileListOptions,
    FileOptions,
    Options,
    WaitOptions,
)

CALLBACKS = {"on_terminate", "on_response", "on_error"}


def check_inferred_types(client: af.Client, path: pathlib.Path) -> None:
    files = client.files
    assert_type(files.create(path, "assistants", filename="a.txt"), af.OpenAIFile)
    assert_type(files.retrieve("file-1", timeout=5), af.OpenAIFile)
    assert_type(files.list(limit=5, order="asc"), af.FileList)
    assert_type(files.delete("file-1"), af.FileDeleted)
    assert_type(files.content("file-1"), bytes)
    assert_type(files.download("file-1", path), pathlib.Path)
    assert_type(files.wait_for_processing("file-1", poll_interval=0.5), af.OpenAIFile)
    assert_type(files.import_url("https://x/a.jsonl", "a.jsonl", "fine-tune"), af.OpenAIFile)
    uploads = client.uploads
    assert_type(uploads.create("a.jsonl", "fine-tune", 10, "text/jsonl"), af.Upload)
    assert_type(uploads.add_part("upload_1", b"x"), af.UploadPart)
    assert_type(uploads.complete("upload_1", ["part_1"], md5="0" * 32), af.Upload)
    assert_type(uploads.cancel("upload_1"), af.Upload)
    assert_type(
        uploads.cancel("upload_1", on_terminate=print),
        af.Upload | concurrent.futures.Future[af.Upload],
    )
    assert_type(
        files.retrieve("file-1", on_terminate=print),
        af.OpenAIFile | concurrent.futures.Future[af.OpenAIFile],
    )
    assert_type(
        files.list(af.FileListParameters(limit=5)),
        af.FileList | concurrent.futures.Future[af.FileList],
    )


OPTIONS_OF = {
    "create": (af.FileParameters, FileOptions),
    "retrieve": (af.Parameters, Options),
    "list": (af.FileListParameters, FileListOptions),
    "delete": (af.Parameters, Options),
    "content": (af.Parameters, Options),
    "download": (af.DownloadParameters, DownloadOptions),
    "wait_for_processing": (af.Parameters, WaitOptions),
}


@pytest.mark.parametrize(("name", "classes"), OPTIONS_OF.items())
def test_blocking_overload_takes_every_option_but_callbacks(
    name: str, classes: tuple[type[af.Parameters], type[Options]]
) -> None:
    parameters_cls, options_cls = classes
    fields = {f.name for f in attrs.fields(parameters_cls)}
    # The async twin's own keyword-only arguments are options of the blocking form too.
    keyword_only = {
        p.name
        for p in inspect.signature(getattr(af.AsyncFilesAPI, name)).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    assert set(options_cls.__annotations__) == fields - CALLBACKS | keyword_only
    blocking = getattr(af.FilesAPI, name).__wrapped__
    options = inspect.signature(blocking).parameters["options"]
    assert options.kind is inspect.Parameter.VAR_KEYWORD
    assert options.annotation == f"Unpack[{options_cls.__name__}]"
