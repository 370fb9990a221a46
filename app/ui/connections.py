"""Dropping Qt signal connections before shutdown, without PySide's warnings."""

from __future__ import annotations

import warnings
from typing import Any


def disconnect_all(*signals: Any) -> None:
    """Disconnect every receiver of each bound signal; a signal with none is fine.

    Done before objects are deleted at exit: a slot (a lambda especially) that
    runs during shutdown can touch a C++ object that is already gone.
    """
    for signal in signals:
        with warnings.catch_warnings():
            # PySide warns "Failed to disconnect" when nothing was connected.
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                signal.disconnect()
            except (RuntimeError, TypeError, SystemError):
                pass
