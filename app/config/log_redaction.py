"""Keep secrets out of the logs of the websockets library.

websockets logs the text of every frame it sends or receives at DEBUG, so with
``--debug`` a device token or a publish key would be written to the log. Give
every websockets connection ``logger=without_frame_debug(name)``.
"""

from __future__ import annotations

import logging


class WithoutFrameDebug(logging.LoggerAdapter[logging.Logger]):
    """A logger that drops DEBUG records (websockets' frame dumps) even when the
    application logs at DEBUG; INFO and above pass through unchanged."""

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - logging's name
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


def without_frame_debug(name: str) -> WithoutFrameDebug:
    """The logger named ``name``, with websockets' frame-by-frame DEBUG output removed."""
    return WithoutFrameDebug(logging.getLogger(name))
