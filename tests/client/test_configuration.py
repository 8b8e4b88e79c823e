"""Bad configuration is refused when the client is made, as ``InvalidArgumentError``: a setting
that cannot go in a header (a trailing newline, a control character, a lone surrogate, a
character past U+00FF), and a base URL carrying credentials; the message names the setting and
never shows a secret."""

from __future__ import annotations

import pytest

import aikit_files as af

KEY = "sk-config-Zq8vQ2xW7tLp0"
PASSWORD = "hunter2-pw"

#: Values that no header can carry, each as read from a file, a paste or a bad decoding.
UNSENDABLE = [
    pytest.param("\n", id="trailing newline"),
    pytest.param("\r\n", id="trailing CRLF"),
    pytest.param("\x00", id="NUL"),
    pytest.param("\x7f", id="DEL"),
    pytest.param("\x85", id="C1 control"),
    pytest.param("\udc80", id="lone surrogate"),
    pytest.param("\u20ac", id="past latin-1"),
]


@pytest.fixture(params=[af.AsyncClient, af.Client], ids=["async", "sync"])
def client_class(request: pytest.FixtureRequest) -> type[af.AsyncClient] | type[af.Client]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_ORG_ID",
        "OPENAI_PROJECT_ID",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_ENDPOINT",
        "OPENAI_API_VERSION",
    ):
        monkeypatch.delenv(name, raising=False)


def refused(
    client_class: type[af.AsyncClient] | type[af.Client], *args: str, **options: str
) -> str:
    """The message of the ``InvalidArgumentError`` that making the client raises."""
    with pytest.raises(af.InvalidArgumentError) as caught:
        client_class(*args, **options)  # type: ignore[arg-type]
    return str(caught.value)


@pytest.mark.parametrize("bad", UNSENDABLE)
def test_a_key_that_cannot_go_in_a_header_is_refused_without_showing_it(
    client_class: type[af.AsyncClient] | type[af.Client], bad: str
) -> None:
    message = refused(client_class, KEY + bad, base_url="http://127.0.0.1:9/v1")
    assert message.startswith("api_key holds ")
    assert KEY not in message
    assert "sk-" not in message


@pytest.mark.parametrize("bad", UNSENDABLE)
@pytest.mark.parametrize("setting", ["organization", "project"])
def test_an_organization_or_project_that_cannot_go_in_a_header_is_refused(
    client_class: type[af.AsyncClient] | type[af.Client], setting: str, bad: str
) -> None:
    message = refused(client_class, KEY, base_url="http://127.0.0.1:9/v1", **{setting: "x" + bad})
    assert message.startswith(f"{setting} holds ")
    assert KEY not in message


def test_a_newline_is_refused_in_the_middle_too(
    client_class: type[af.AsyncClient] | type[af.Client],
) -> None:
    message = refused(client_class, "sk-a\nb", base_url="http://127.0.0.1:9/v1")
    assert "line break" in message
    assert "position 4" in message


@pytest.mark.parametrize(
    ("variable", "provider"),
    [("OPENAI_API_KEY", "openai"), ("AZURE_OPENAI_API_KEY", "azure")],
)
def test_a_key_from_the_environment_names_its_variable(
    client_class: type[af.AsyncClient] | type[af.Client],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    provider: str,
) -> None:
    monkeypatch.setenv(variable, KEY + "\n")
    message = refused(client_class, base_url="http://127.0.0.1:9", provider=provider)
    assert message.startswith(f"api_key (from {variable}) holds a line break")
    assert KEY not in message


def test_an_organization_from_the_environment_names_its_variable(
    client_class: type[af.AsyncClient] | type[af.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_ORG_ID", "org-1\n")
    message = refused(client_class, KEY, base_url="http://127.0.0.1:9/v1")
    assert message.startswith("organization (from OPENAI_ORG_ID) holds a line break")


@pytest.mark.parametrize("provider", ["openai", "azure"])
@pytest.mark.parametrize(
    "userinfo", [f"user:{PASSWORD}@", f":{PASSWORD}@", f"{PASSWORD}@", f"user:{KEY}@"]
)
def test_a_base_url_with_credentials_is_refused_without_showing_them(
    client_class: type[af.AsyncClient] | type[af.Client], provider: str, userinfo: str
) -> None:
    message = refused(
        client_class, KEY, base_url=f"https://{userinfo}files.example:8443/v1", provider=provider
    )
    assert message.startswith("base_url must not hold credentials")
    assert PASSWORD not in message
    assert KEY not in message


def test_a_base_url_from_the_environment_with_credentials_names_its_variable(
    client_class: type[af.AsyncClient] | type[af.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", f"https://me:{PASSWORD}@res.openai.azure.com")
    message = refused(client_class, KEY, provider="azure")
    assert message.startswith("base_url (from AZURE_OPENAI_ENDPOINT) must not hold credentials")
    assert PASSWORD not in message


def test_a_base_url_with_a_bad_port_and_credentials_does_not_show_them(
    client_class: type[af.AsyncClient] | type[af.Client],
) -> None:
    message = refused(client_class, KEY, base_url=f"https://u:{PASSWORD}@host:port/v1")
    assert PASSWORD not in message


@pytest.mark.parametrize("bad", ["\n", " ", "\t", "\x00"])
def test_a_base_url_with_a_control_character_or_whitespace_is_refused(
    client_class: type[af.AsyncClient] | type[af.Client], bad: str
) -> None:
    message = refused(client_class, KEY, base_url=f"https://api.example/v1{bad}")
    assert message.startswith("base_url holds a control character or whitespace")


def test_good_settings_are_taken(client_class: type[af.AsyncClient] | type[af.Client]) -> None:
    # A guard against checks that refuse everything: latin-1 text and a port are fine.
    client = client_class(
        KEY, base_url="http://127.0.0.1:9/v1", organization="org-é", project="proj 1"
    )
    if isinstance(client, af.Client):
        client.close()


def test_an_api_version_with_a_line_break_is_refused(
    client_class: type[af.AsyncClient] | type[af.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    options = {"base_url": "http://127.0.0.1:9", "provider": "azure"}
    message = refused(client_class, KEY, api_version="2024-10-21\n", **options)
    assert message.startswith("api_version holds a line break")
    monkeypatch.setenv("OPENAI_API_VERSION", "2024-10-21\n")
    message = refused(client_class, KEY, **options)
    assert message.startswith("api_version (from OPENAI_API_VERSION) holds a line break")


def test_a_base_url_from_the_environment_with_a_line_break_names_its_variable(
    client_class: type[af.AsyncClient] | type[af.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.example/v1\n")
    message = refused(client_class, KEY)
    assert message.startswith("base_url (from OPENAI_BASE_URL) holds a control character")


@pytest.mark.parametrize("host", ["a..example", ".example", "a" * 64 + ".example"])
def test_a_base_url_whose_host_no_dns_name_can_be_is_refused(
    client_class: type[af.AsyncClient] | type[af.Client], host: str
) -> None:
    message = refused(client_class, KEY, base_url=f"https://{host}/v1")
    assert message.startswith("base_url has a host name with an empty label")


@pytest.mark.parametrize("bad", ["\udc80", "\u20ac", "\x85", "\n"])
def test_a_call_s_header_that_cannot_go_in_a_header_is_refused_before_any_io(bad: str) -> None:
    # aiohttp would drop a lone surrogate silently, and send the rest as UTF-8.
    client = af.AsyncClient(KEY, base_url="http://127.0.0.1:9/v1")
    with pytest.raises(af.InvalidArgumentError, match=r"extra_headers\['X-Trace'\] holds"):
        client.files.retrieve("file-1", extra_headers={"X-Trace": f"t{bad}1"})
    af.Parameters(extra_headers={"X-Trace": "caf\u00e9\t1"}).validate()  # latin-1 and TAB pass
