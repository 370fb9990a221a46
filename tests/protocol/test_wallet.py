"""Wallet addresses: validated, EIP-55 checksummed, with messages people understand."""

from __future__ import annotations

import pytest

from app.protocol import InvalidWallet, normalize_wallet

CHECKSUMMED = "0x52908400098527886E0F7030069857D2E4169EE7"


@pytest.mark.parametrize(
    "spelling", [CHECKSUMMED, CHECKSUMMED.lower(), "0x" + CHECKSUMMED[2:].upper()]
)
def test_accepted_spellings_normalise_to_the_checksum(spelling: str) -> None:
    assert normalize_wallet(spelling) == CHECKSUMMED


def test_mixed_case_with_a_wrong_checksum_is_refused_with_the_right_one() -> None:
    typo = CHECKSUMMED.replace("6E0F", "6e0F")  # one letter's case flipped: same hex, bad checksum
    with pytest.raises(InvalidWallet) as caught:
        normalize_wallet(typo)
    assert "checksum" in str(caught.value)
    assert CHECKSUMMED in str(caught.value)


@pytest.mark.parametrize(
    "text", ["", "0x", "0x123", "52908400098527886E0F7030069857D2E4169EE7", "0x" + "g" * 40]
)
def test_not_an_address(text: str) -> None:
    with pytest.raises(InvalidWallet) as caught:
        normalize_wallet(text)
    assert "40 hex digits" in str(caught.value)
