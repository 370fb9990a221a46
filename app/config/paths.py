"""Where Seller Notifier keeps its files.

``SELLER_NOTIFIER_HOME`` moves every directory under one folder (tests and the
demo use it so they never touch the user's real files); otherwise the platform's
conventional directories are used (via platformdirs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from platformdirs import PlatformDirs

APP_NAME = "seller-notifier"
HOME_ENV = "SELLER_NOTIFIER_HOME"


@dataclass(frozen=True)
class AppPaths:
    config_dir: Path
    data_dir: Path
    log_dir: Path
    cache_dir: Path

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def client_db(self) -> Path:
        """The tray app's local store (received events, last seq, orders)."""
        return self.data_dir / "client.sqlite3"

    @property
    def gateway_dir(self) -> Path:
        """The embedded gateway's directory: its event log and its secrets."""
        return self.data_dir / "gateway"

    @property
    def gateway_db(self) -> Path:
        return self.gateway_dir / "events.sqlite3"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "seller-notifier.log"

    def ensure(self) -> AppPaths:
        """Create the directories (owner-only where the platform allows) and return self."""
        for directory in (self.config_dir, self.data_dir, self.log_dir, self.cache_dir):
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self


def app_paths(home: Path | None = None) -> AppPaths:
    """The directories to use; ``home`` (or ``$SELLER_NOTIFIER_HOME``) overrides all."""
    root = home if home is not None else _home_from_env()
    if root is not None:
        return AppPaths(
            config_dir=root / "config",
            data_dir=root / "data",
            log_dir=root / "log",
            cache_dir=root / "cache",
        )
    dirs = PlatformDirs(APP_NAME, appauthor=False)
    return AppPaths(
        config_dir=Path(dirs.user_config_dir),
        data_dir=Path(dirs.user_data_dir),
        log_dir=Path(dirs.user_log_dir),
        cache_dir=Path(dirs.user_cache_dir),
    )


def _home_from_env() -> Path | None:
    value = os.environ.get(HOME_ENV, "").strip()
    return Path(value).expanduser() if value else None
