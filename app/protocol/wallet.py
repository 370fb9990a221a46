"""Ethereum wallet addresses: the identity of a seller on the wire.

Every address that enters the system goes through :func:`normalize_wallet`, so
everywhere else an address is a checksummed (EIP-55) string and two spellings of
one wallet can never become two sellers.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated

from eth_utils.address import to_checksum_address
from pydantic import AfterValidator

_HEX_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


class InvalidWallet(ValueError):
    """The text is not an Ethereum address; the message says why, for a seller."""


@lru_cache(maxsize=4096)  # checksumming hashes (keccak); a gateway sees the same few often
def normalize_wallet(text: str) -> str:
    """Return the EIP-55 checksummed form of ``text``.

    Accepts ``0x`` + 40 hex digits in all-lower or all-upper case (no checksum),
    or mixed case that must match the EIP-55 checksum, since a mixed-case typo
    is exactly what the checksum exists to catch.
    """
    candidate = text.strip()
    if not _HEX_ADDRESS.match(candidate):
        raise InvalidWallet(
            f"{text!r} is not a wallet address: expected 0x followed by 40 hex digits"
        )
    checksummed = to_checksum_address(candidate)
    digits = candidate[2:]
    mixed_case = digits != digits.lower() and digits != digits.upper()
    if mixed_case and candidate != checksummed:
        raise InvalidWallet(
            f"{text!r} has a wrong EIP-55 checksum (a typo?); did you mean {checksummed}?"
        )
    return checksummed


def _validate(value: str) -> str:
    return normalize_wallet(value)


WalletAddress = Annotated[str, AfterValidator(_validate)]
"""A pydantic field type: any accepted spelling in, the checksummed form out."""
