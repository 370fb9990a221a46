"""Device tokens live in the OS keyring; without one the seller is told, not ignored."""

from __future__ import annotations

from collections.abc import Iterator

import keyring
import pytest
from keyring.backends import fail
from keyring_support import MemoryKeyring

from app.config import credentials


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def test_token_is_stored_per_wallet(
    memory_keyring: MemoryKeyring, wallet_a: str, wallet_b: str
) -> None:
    credentials.save_token(wallet_a, "token-a")
    assert credentials.load_token(wallet_a) == "token-a"
    assert credentials.load_token(wallet_b) is None
    credentials.forget_token(wallet_a)
    assert credentials.load_token(wallet_a) is None


def test_environment_overrides_the_keyring(
    memory_keyring: MemoryKeyring, wallet_a: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials.save_token(wallet_a, "from-keyring")
    monkeypatch.setenv("SELLER_NOTIFIER_TOKEN", "from-env")
    assert credentials.load_token(wallet_a) == "from-env"


def test_without_a_keyring_saving_says_what_to_do(no_keyring: None, wallet_a: str) -> None:
    assert credentials.load_token(wallet_a) is None
    with pytest.raises(credentials.CredentialStoreUnavailable) as caught:
        credentials.save_token(wallet_a, "t")
    assert "SELLER_NOTIFIER_TOKEN" in str(caught.value)
