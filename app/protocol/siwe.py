"""Sign-In with Ethereum (EIP-4361) messages: the text a seller signs in their wallet.

Pure and strict: :func:`parse_siwe` accepts exactly the ABNF of EIP-4361 (with
the optional ``scheme://`` prefix of the current revision) and refuses
everything else with a :class:`SiweFormatError` naming the line; the
``SiweMessage`` it returns renders back to the same text with
:meth:`SiweMessage.text`. Checking the *values* (is the domain ours, is the
nonce fresh, is the signature the address's) is the relying party's job —
the gateway's, in ``app.gateway.siwe``. Signature recovery is never done here.

Lengths are capped (the EIP leaves them to implementers): a message is at most
:data:`MAX_MESSAGE_LENGTH` characters, so parsing a hostile one stays cheap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from app.protocol.wallet import InvalidWallet, normalize_wallet

MAX_MESSAGE_LENGTH: Final = 4096
MAX_RESOURCES: Final = 16
PREAMBLE: Final = " wants you to sign in with your Ethereum account:"

# RFC 3986 character classes, as the EIP's ABNF uses them.
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_GEN_DELIMS = r":/?#\[\]@"
_PCT = r"%[0-9A-Fa-f]{2}"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*$")
_HOST = re.compile(rf"^(?:\[[0-9A-Fa-f:.]+\]|(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})+)$")
_PORT = re.compile(r"^[0-9]{1,5}$")
_URI = re.compile(
    rf"^[A-Za-z][A-Za-z0-9+.\-]*:(?:[{_UNRESERVED}{_SUB_DELIMS}{_GEN_DELIMS}]|{_PCT})*$"
)
_STATEMENT = re.compile(rf"^[{_UNRESERVED}{_SUB_DELIMS}{_GEN_DELIMS} ]*$")
_REQUEST_ID = re.compile(rf"^(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})*$")
_NONCE = re.compile(r"^[A-Za-z0-9]{8,128}$")
_CHAIN_ID = re.compile(r"^[0-9]{1,20}$")
_DATE_TIME = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
    r"(?:[Zz]|[+\-][0-9]{2}:[0-9]{2})$"
)
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


class SiweFormatError(ValueError):
    """The text is not an EIP-4361 message; the message says where, for a person."""


@dataclass(frozen=True)
class SiweMessage:
    """One EIP-4361 message. ``address`` is EIP-55 checksummed; times are aware (UTC).

    ``text()`` renders the exact text to sign; build one with :meth:`create` to
    have every field checked as :func:`parse_siwe` would.
    """

    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: datetime
    statement: str | None = None
    version: str = "1"
    scheme: str | None = None
    expiration_time: datetime | None = None
    not_before: datetime | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = field(default=())

    @classmethod
    def create(
        cls,
        *,
        domain: str,
        address: str,
        uri: str,
        chain_id: int,
        nonce: str,
        issued_at: datetime,
        statement: str | None = None,
        scheme: str | None = None,
        expiration_time: datetime | None = None,
        not_before: datetime | None = None,
        request_id: str | None = None,
        resources: tuple[str, ...] = (),
    ) -> SiweMessage:
        """A message whose every field is valid; raises :class:`SiweFormatError`."""
        message = cls(
            domain=domain,
            address=address,
            uri=uri,
            chain_id=chain_id,
            nonce=nonce,
            issued_at=issued_at,
            statement=statement,
            scheme=scheme,
            expiration_time=expiration_time,
            not_before=not_before,
            request_id=request_id,
            resources=resources,
        )
        # The strict parser is the one definition of "valid": a message must survive it.
        return parse_siwe(message.text())

    def text(self) -> str:
        """The message exactly as the wallet shows and signs it."""
        origin = f"{self.scheme}://{self.domain}" if self.scheme else self.domain
        lines = [origin + PREAMBLE, self.address, ""]
        if self.statement is not None:
            lines.append(self.statement)
        lines += [
            "",
            f"URI: {self.uri}",
            f"Version: {self.version}",
            f"Chain ID: {self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {format_time(self.issued_at)}",
        ]
        if self.expiration_time is not None:
            lines.append(f"Expiration Time: {format_time(self.expiration_time)}")
        if self.not_before is not None:
            lines.append(f"Not Before: {format_time(self.not_before)}")
        if self.request_id is not None:
            lines.append(f"Request ID: {self.request_id}")
        if self.resources:
            lines.append("Resources:")
            lines += [f"- {resource}" for resource in self.resources]
        return "\n".join(lines)


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``: seconds, or milliseconds when there are any."""
    utc = moment.astimezone(UTC)
    spec = "milliseconds" if utc.microsecond else "seconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def parse_siwe(text: str) -> SiweMessage:
    """Parse an EIP-4361 message strictly; raises :class:`SiweFormatError`."""
    if len(text) > MAX_MESSAGE_LENGTH:
        raise SiweFormatError(f"the message is longer than {MAX_MESSAGE_LENGTH} characters")
    if "\r" in text:
        raise SiweFormatError("lines must end with LF only (no CR)")
    lines = text.split("\n")
    reader = _Lines(lines)

    first = reader.take("the first line")
    if not first.endswith(PREAMBLE):
        raise SiweFormatError(f"line 1 must end with {PREAMBLE.strip()!r}")
    scheme, domain = _origin(first[: -len(PREAMBLE)])

    address = _address(reader.take("the address line"))
    if reader.take("a blank line after the address") != "":
        raise SiweFormatError(f"line {reader.number} must be blank")
    statement: str | None = None
    line = reader.take("the statement or a blank line")
    if line != "":
        if not _STATEMENT.match(line) or len(line) > 1024:
            raise SiweFormatError(
                f"line {reader.number}: the statement may only hold printable ASCII "
                "(RFC 3986 reserved or unreserved characters and spaces)"
            )
        statement = line
        if reader.take("a blank line after the statement") != "":
            raise SiweFormatError(f"line {reader.number} must be blank")

    uri = _checked(reader.field("URI"), _URI, reader, "URI is not an RFC 3986 URI", 1024)
    version = reader.field("Version")
    if version != "1":
        raise SiweFormatError(f"line {reader.number}: only Version 1 exists, not {version!r}")
    chain_text = _checked(reader.field("Chain ID"), _CHAIN_ID, reader, "Chain ID is not a number")
    chain_id = int(chain_text)
    if chain_id < 1:
        raise SiweFormatError(f"line {reader.number}: Chain ID must be positive")
    nonce = _checked(
        reader.field("Nonce"), _NONCE, reader, "the nonce must be 8 to 128 letters and digits"
    )
    issued_at = _time(reader.field("Issued At"), reader)

    expiration_time = not_before = None
    request_id: str | None = None
    resources: list[str] = []
    if reader.peek_field("Expiration Time"):
        expiration_time = _time(reader.field("Expiration Time"), reader)
    if reader.peek_field("Not Before"):
        not_before = _time(reader.field("Not Before"), reader)
    if reader.peek_field("Request ID"):
        request_id = _checked(
            reader.field("Request ID"), _REQUEST_ID, reader, "Request ID holds characters "
            "an RFC 3986 path segment may not", 256,
        )  # fmt: skip
    if reader.peek_exact("Resources:"):
        reader.take("Resources:")
        while reader.more():
            item = reader.take("a resource")
            if not item.startswith("- "):
                raise SiweFormatError(f"line {reader.number}: a resource starts with '- '")
            resources.append(
                _checked(item[2:], _URI, reader, "the resource is not an RFC 3986 URI", 1024)
            )
            if len(resources) > MAX_RESOURCES:
                raise SiweFormatError(f"more than {MAX_RESOURCES} resources")
    if reader.more():
        raise SiweFormatError(
            f"line {reader.number + 1}: unexpected {reader.peek()!r} "
            "(fields must come in the EIP-4361 order, without trailing lines)"
        )
    return SiweMessage(
        domain=domain,
        address=address,
        uri=uri,
        chain_id=chain_id,
        nonce=nonce,
        issued_at=issued_at,
        statement=statement,
        version=version,
        scheme=scheme,
        expiration_time=expiration_time,
        not_before=not_before,
        request_id=request_id,
        resources=tuple(resources),
    )


class _Lines:
    """The message's lines, read in order; ``number`` is the 1-based line last taken."""

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines
        self.number = 0

    def more(self) -> bool:
        return self.number < len(self._lines)

    def peek(self) -> str:
        return self._lines[self.number]

    def take(self, what: str) -> str:
        if not self.more():
            raise SiweFormatError(f"the message ends where {what} should be")
        line = self._lines[self.number]
        self.number += 1
        return line

    def peek_field(self, name: str) -> bool:
        return self.more() and self.peek().startswith(f"{name}: ")

    def peek_exact(self, text: str) -> bool:
        return self.more() and self.peek() == text

    def field(self, name: str) -> str:
        line = self.take(f"the {name!r} line")
        prefix = f"{name}: "
        if not line.startswith(prefix):
            raise SiweFormatError(f"line {self.number} must start with {prefix!r}")
        return line[len(prefix) :]


def _origin(text: str) -> tuple[str | None, str]:
    scheme: str | None = None
    if "://" in text:
        scheme, text = text.split("://", 1)
        if not _SCHEME.match(scheme):
            raise SiweFormatError(f"line 1: {scheme!r} is not a URI scheme")
    if "@" in text:
        # RFC 3986 allows userinfo in an authority; a wallet showing
        # "user@evil.example" as the domain is a phishing aid, so it is refused.
        raise SiweFormatError("line 1: the domain must not contain user information ('@')")
    host, port = text, None
    if text.startswith("["):
        end = text.find("]")
        if end != -1 and text[end + 1 :].startswith(":"):
            host, port = text[: end + 1], text[end + 2 :]
    elif ":" in text:
        host, port = text.rsplit(":", 1)
    if not host or len(text) > 255 or not _HOST.match(host):
        raise SiweFormatError(f"line 1: {text!r} is not a domain (an RFC 3986 authority)")
    if port is not None and (not _PORT.match(port) or int(port) > 65535):
        raise SiweFormatError(f"line 1: {port!r} is not a port")
    return scheme, text


def _address(line: str) -> str:
    if not _ADDRESS.match(line):
        raise SiweFormatError("line 2 must be the address: 0x followed by 40 hex digits")
    try:
        checksummed = normalize_wallet(line)
    except InvalidWallet as exc:
        raise SiweFormatError(f"line 2: {exc}") from None
    if line != checksummed:
        # EIP-4361: the address must be in its EIP-55 mixed-case form.
        raise SiweFormatError(f"line 2: the address must be EIP-55 checksummed ({checksummed})")
    return checksummed


def _checked(
    value: str, pattern: re.Pattern[str], reader: _Lines, problem: str, limit: int = 128
) -> str:
    if len(value) > limit or not pattern.match(value):
        raise SiweFormatError(f"line {reader.number}: {problem}")
    return value


def _time(value: str, reader: _Lines) -> datetime:
    if not _DATE_TIME.match(value):
        raise SiweFormatError(f"line {reader.number}: {value!r} is not an RFC 3339 date-time")
    normalized = value.upper()
    # datetime.fromisoformat takes at most 6 fraction digits.
    normalized = re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", normalized)
    try:
        moment = datetime.fromisoformat(normalized.replace("Z", "+00:00"))
    except ValueError:
        raise SiweFormatError(f"line {reader.number}: {value!r} is not a valid date") from None
    return moment.astimezone(UTC)
