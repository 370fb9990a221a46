"""The JSON Schema of protocol v1, generated from the models.

``docs/protocol.schema.json`` is a checked-in copy for integrators in other
languages; a test fails when it is stale. Regenerate with
``python -m app.protocol.schema > docs/protocol.schema.json``.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from app.protocol.frames import PROTOCOL_VERSION, ClientFrame, ServerFrame


def protocol_schema() -> dict[str, Any]:
    """One document with two roots: frames the gateway sends and frames it accepts."""
    server = TypeAdapter(ServerFrame).json_schema(by_alias=True, mode="serialization")
    client = TypeAdapter(ClientFrame).json_schema(by_alias=True, mode="validation")
    definitions: dict[str, Any] = {}
    definitions.update(server.pop("$defs", {}))
    definitions.update(client.pop("$defs", {}))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"Seller Notifier wire protocol v{PROTOCOL_VERSION}",
        "description": "Every WebSocket text frame is one JSON object of one of these shapes.",
        "$defs": dict(sorted(definitions.items())),
        "properties": {
            "serverFrame": server,
            "clientFrame": client,
        },
    }


def render() -> str:
    return json.dumps(protocol_schema(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
