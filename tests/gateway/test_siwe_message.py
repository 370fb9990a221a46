"""EIP-4361 messages: the EIP's own examples parse, round-trip, and anything else is
refused with the line that is wrong."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.protocol.siwe import MAX_MESSAGE_LENGTH, SiweFormatError, SiweMessage, parse_siwe

# The example message of EIP-4361 (eips.ethereum.org/EIPS/eip-4361), verbatim.
EIP_EXAMPLE = """example.com wants you to sign in with your Ethereum account:
0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2

I accept the ExampleOrg Terms of Service: https://example.com/tos

URI: https://example.com/login
Version: 1
Chain ID: 1
Nonce: 32891756
Issued At: 2021-09-30T16:25:24Z
Resources:
- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/
- https://example.com/my-web2-claim.json"""

# Its variants in the EIP: an explicit port, and an explicit scheme.
EIP_WITH_PORT = EIP_EXAMPLE.replace("example.com wants", "example.com:3388 wants", 1)
EIP_WITH_SCHEME = "https://" + EIP_EXAMPLE

EVERY_FIELD = """https://shop.example.org:8443 wants you to sign in with your Ethereum account:
0x52908400098527886E0F7030069857D2E4169EE7

Sign in to Seller Notifier.

URI: wss://shop.example.org:8443/gateway?x=1
Version: 1
Chain ID: 137
Nonce: abcDEF0123456789
Issued At: 2026-11-25T10:00:00.250Z
Expiration Time: 2026-11-25T10:05:00Z
Not Before: 2026-11-25T09:59:00Z
Request ID: req-7:a@b
Resources:
- https://shop.example.org/terms"""


def test_the_eip_example_parses_into_its_fields() -> None:
    message = parse_siwe(EIP_EXAMPLE)
    assert message.scheme is None
    assert message.domain == "example.com"
    assert message.address == "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
    assert message.statement == "I accept the ExampleOrg Terms of Service: https://example.com/tos"
    assert message.uri == "https://example.com/login"
    assert (message.version, message.chain_id, message.nonce) == ("1", 1, "32891756")
    assert message.issued_at == datetime(2021, 9, 30, 16, 25, 24, tzinfo=UTC)
    assert message.expiration_time is None and message.not_before is None
    assert message.resources == (
        "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
        "https://example.com/my-web2-claim.json",
    )


@pytest.mark.parametrize("text", [EIP_EXAMPLE, EIP_WITH_PORT, EIP_WITH_SCHEME, EVERY_FIELD])
def test_a_parsed_message_renders_back_to_the_same_text(text: str) -> None:
    assert parse_siwe(text).text() == text


def test_the_eip_variants_keep_port_and_scheme() -> None:
    assert parse_siwe(EIP_WITH_PORT).domain == "example.com:3388"
    with_scheme = parse_siwe(EIP_WITH_SCHEME)
    assert (with_scheme.scheme, with_scheme.domain) == ("https", "example.com")


def test_every_optional_field_is_read() -> None:
    message = parse_siwe(EVERY_FIELD)
    assert message.chain_id == 137
    assert message.issued_at == datetime(2026, 11, 25, 10, 0, 0, 250000, tzinfo=UTC)
    assert message.expiration_time == datetime(2026, 11, 25, 10, 5, tzinfo=UTC)
    assert message.not_before == datetime(2026, 11, 25, 9, 59, tzinfo=UTC)
    assert message.request_id == "req-7:a@b"


def test_a_message_without_a_statement_has_two_blank_lines() -> None:
    lines = EIP_EXAMPLE.splitlines()
    without = "\n".join(lines[:3] + lines[4:])
    message = parse_siwe(without)
    assert message.statement is None
    assert message.text() == without


def test_create_builds_only_valid_messages() -> None:
    message = SiweMessage.create(
        domain="127.0.0.1:8765",
        address="0x52908400098527886E0F7030069857D2E4169EE7",
        uri="ws://127.0.0.1:8765",
        chain_id=1,
        nonce="a1b2c3d4e5",
        issued_at=datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
        statement="Sign in.",
    )
    assert message.text().splitlines()[0] == (
        "127.0.0.1:8765 wants you to sign in with your Ethereum account:"
    )
    with pytest.raises(SiweFormatError, match="nonce"):
        SiweMessage.create(
            domain="example.com",
            address="0x52908400098527886E0F7030069857D2E4169EE7",
            uri="https://example.com",
            chain_id=1,
            nonce="short",
            issued_at=datetime(2026, 11, 25, tzinfo=UTC),
        )


def _replace(line: str, new: str, text: str = EIP_EXAMPLE) -> str:
    assert line in text
    return text.replace(line, new, 1)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "line 1 must end with"),
        ("example.com wants you to sign in with your Ethereum account:", "ends where"),
        ("hello", "line 1 must end with"),
        (_replace("example.com wants", "evil@example.com wants"), "user information"),
        (_replace("example.com wants", "exa mple.com wants"), "not a domain"),
        (_replace("example.com wants", "example.com:99999 wants"), "not a port"),
        (_replace("example.com wants", "1http://example.com wants"), "not a URI scheme"),
        (
            _replace(
                "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
                "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2",
            ),
            "EIP-55",
        ),
        (
            _replace(
                "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
                "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756CC2",
            ),
            "checksum",
        ),
        (_replace("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", "0x1234"), "line 2"),
        (_replace("\n\nI accept", "\nI accept"), "line 3 must be blank"),
        (_replace("Terms of Service:", "Terms of \"Service\":"), "statement"),
        (_replace("Terms of Service:", "Terms of Servicé:"), "statement"),
        (_replace("URI: https://example.com/login", "URI: not a uri"), "URI"),
        (_replace("URI: https://", "Uri: https://"), "must start with 'URI: '"),
        (_replace("Version: 1", "Version: 2"), "only Version 1"),
        (_replace("Chain ID: 1", "Chain ID: one"), "Chain ID"),
        (_replace("Chain ID: 1", "Chain ID: 0"), "positive"),
        (_replace("Nonce: 32891756", "Nonce: 1234567"), "nonce"),
        (_replace("Nonce: 32891756", "Nonce: 3289-1756"), "nonce"),
        (_replace("Issued At: 2021-09-30T16:25:24Z", "Issued At: yesterday"), "RFC 3339"),
        (_replace("Issued At: 2021-09-30T16:25:24Z", "Issued At: 2021-02-30T16:25:24Z"), "date"),
        (_replace("Resources:\n", "Resources:\nnot-a-list\n"), "starts with '- '"),
        (EIP_EXAMPLE + "\n", "starts with '- '"),
        (EIP_EXAMPLE.replace("\n", "\r\n"), "CR"),
        (
            _replace("Issued At: 2021-09-30T16:25:24Z", "Issued At: 2021-09-30T16:25:24Z\nFoo: x"),
            "unexpected",
        ),
        (
            _replace(
                "Issued At: 2021-09-30T16:25:24Z",
                "Issued At: 2021-09-30T16:25:24Z\nNot Before: 2021-09-30T16:25:24Z\n"
                "Expiration Time: 2021-09-30T16:25:24Z",
            ),
            "EIP-4361 order",
        ),
        ("a" * (MAX_MESSAGE_LENGTH + 1), "longer than"),
    ],
)
def test_anything_but_the_grammar_is_refused_naming_the_problem(text: str, problem: str) -> None:
    with pytest.raises(SiweFormatError, match=problem):
        parse_siwe(text)
