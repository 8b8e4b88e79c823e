"""The official specs' quirks that ``make conformance`` works around: the one place that lists them.

Each quirk is a place where a spec says less than, or other than, what the real service does,
so that an independent tool reading the spec literally would flag the real service too. Each is
a function that corrects the spec (a copy: the spec files themselves stay as they are)
and says why in its docstring; ``EXCLUDED_CHECKS`` names the schemathesis checks left out, and
why. Anything not listed here is checked as the spec says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

Spec = dict[str, Any]

#: The operations ``make conformance`` looks at: the Files and Uploads APIs.
PATHS_REGEX: Final = "^/(files|uploads)"

#: The schemathesis checks left out, with the reason.
EXCLUDED_CHECKS: Final = {
    "positive_data_acceptance": (
        "The specs cannot say the rules that make a schema-valid request one the service "
        "refuses: a batch or fine-tune file must be named *.jsonl, Parts must add up to the "
        "Upload's bytes, a cancelled or completed Upload takes no Part, the storage quota. Both "
        "services answer those with a 400 and an error body, as we do; negative data (what "
        "the schema itself refuses) is still checked."
    ),
}


def _nullable_openapi31(schema: Spec, *names: str) -> None:
    properties = schema["properties"]
    for name in names:
        properties[name] = {"anyOf": [properties[name], {"type": "null"}]}


def openai_nulls(spec: Spec) -> None:
    """OpenAI's spec types ``OpenAIFile.expires_at`` and ``status_details``,
    ``ListFilesResponse.first_id``/``last_id`` and ``Upload.file`` as non-nullable, but the
    service sends them as ``null`` when there is nothing (a file that never expires, an empty
    page, a pending Upload), and the official SDK types them ``Optional``. ``Upload.file`` says
    ``nullable: true``, which OpenAPI 3.1 (the spec's version) no longer reads."""
    schemas = spec["components"]["schemas"]
    _nullable_openapi31(schemas["OpenAIFile"], "expires_at", "status_details")
    _nullable_openapi31(schemas["ListFilesResponse"], "first_id", "last_id")
    schemas["Upload"]["properties"]["file"] = {
        "anyOf": [{"$ref": "#/components/schemas/OpenAIFile"}, {"type": "null"}]
    }


def openai_evals_purpose(spec: Spec) -> None:
    """``CreateFileRequest.purpose`` accepts ``evals``, but ``OpenAIFile.purpose`` (the file it
    makes) lists no ``evals``: the spec refuses its own answer to a request it allows."""
    purpose = spec["components"]["schemas"]["OpenAIFile"]["properties"]["purpose"]
    purpose["enum"] = [*purpose["enum"], "evals"]


def openai_error_responses(spec: Spec) -> None:
    """OpenAI's spec documents only the 200 of each Files and Uploads operation, yet the
    service answers 400, 401, 404, 405, 408, 413, 415 and 507-like refusals with its
    ``ErrorResponse`` body (the SDK reads it). Each operation gets a ``4XX`` and a ``5XX`` answer
    of that schema, so that our error bodies are checked against it rather than ignored."""
    error = {
        "description": "An error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }
    for operation in _operations(spec):
        operation["responses"].setdefault("4XX", error)
        operation["responses"].setdefault("5XX", error)


def openai_content_type(spec: Spec) -> None:
    """``GET /files/{file_id}/content`` is documented as a JSON string, but it answers the
    file's bytes as they were uploaded (``application/octet-stream``), as the SDK expects
    (``files.content`` returns the binary response)."""
    responses = spec["paths"]["/files/{file_id}/content"]["get"]["responses"]
    responses["200"]["content"] = {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
    }


def azure_api_versions(spec: Spec) -> None:
    """Azure's ``api-version`` is typed as any string (the empty one too), but the service
    refuses one it does not serve; the versions it serves stand in as an ``enum``. (The server's
    list: ``aikit_files.server._middleware.API_VERSIONS``.)"""
    from aikit_files.server._middleware import API_VERSIONS

    spec["parameters"]["apiVersionQueryParameter"]["enum"] = sorted(API_VERSIONS)


def azure_purposes(spec: Spec) -> None:
    """The 2024-10-21 ``Purpose`` enum lacks OpenAI's ``vision``, ``user_data`` and ``evals``,
    which the later API versions the server also serves (up to 2025-04-01-preview) take; the
    server takes them on every version, so the enum gets them."""
    purpose = spec["definitions"]["Purpose"]
    purpose["enum"] = [*purpose["enum"], "vision", "user_data", "evals"]
    for parameter in spec["paths"]["/files"]["get"]["parameters"]:
        if parameter.get("name") == "purpose":
            parameter["enum"] = purpose["enum"]


def azure_examples(spec: Spec) -> None:
    """Azure's spec refers (``x-ms-examples``) to example files for operations outside Files and
    Uploads that its published folder lacks (``examples/get_batches.json``...), which stops Prism
    from loading it; the examples are documentation, not the wire contract, so they go."""
    for item in spec["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                operation.pop("x-ms-examples", None)


def azure_error_statuses(spec: Spec) -> None:
    """Azure's spec gives each operation its 200/201 and a ``default`` error answer, which
    covers every status; nothing to correct, listed so that the reader knows it was checked."""


def azure_host_for_prism(spec: Spec) -> None:
    """Azure's spec puts ``/openai`` in its host (``x-ms-parameterized-host``: ``{endpoint}/openai``),
    which Prism does not read: for Prism (only) the paths carry it, so that a client's
    ``/openai/files`` finds its route."""
    spec["paths"] = {"/openai" + path: item for path, item in spec["paths"].items()}


def azure_location_for_prism(spec: Spec) -> None:
    """The ``Location`` of a create is typed ``format: url``, which Prism checks with ajv's
    ``url`` pattern: it refuses loopback and private addresses and names without a dot
    (``localhost``), where a local server lives. For Prism the header keeps its type only."""
    for item in spec["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                for header in response.get("headers", {}).values():
                    if header.get("format") == "url":
                        del header["format"]


OPENAI_QUIRKS: Final[tuple[Callable[[Spec], None], ...]] = (
    openai_nulls,
    openai_evals_purpose,
    openai_error_responses,
    openai_content_type,
)
AZURE_QUIRKS: Final[tuple[Callable[[Spec], None], ...]] = (
    azure_api_versions,
    azure_purposes,
    azure_examples,
    azure_error_statuses,
)
#: Applied on top of ``AZURE_QUIRKS`` for Prism alone.
PRISM_AZURE_QUIRKS: Final[tuple[Callable[[Spec], None], ...]] = (
    *AZURE_QUIRKS,
    azure_host_for_prism,
    azure_location_for_prism,
)


def _operations(spec: Spec) -> list[Spec]:
    import re

    return [
        operation
        for path, item in spec["paths"].items()
        if re.match(PATHS_REGEX, path)
        for method, operation in item.items()
        if method in ("get", "post", "delete", "put", "patch")
    ]
