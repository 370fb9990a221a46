"""Structured gateway logs: one JSON object per line, for log collectors.

The gateway's messages are written ``what happened key=value key=value`` (logfmt
style), which people read as they are; :class:`JsonFormatter` also lifts those
pairs into fields, so ``{"msg": "device connected", "wallet": "0x…", …}`` can be
queried without parsing. Tokens and keys never appear in messages in the first
place.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any, Final

_PAIR: Final = re.compile(r"(?:^|\s)([a-z_]+)=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\S+)")


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", <key=value pairs>, "error"?}`` per record."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        first = _PAIR.search(message)
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": message[: first.start()].strip() if first else message,
        }
        for key, value in _PAIR.findall(message):
            if key not in entry:
                entry[key] = value[1:-1] if value[:1] in ("'", '"') else value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
