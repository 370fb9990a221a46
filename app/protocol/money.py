"""Money on the wire: an exact decimal written as a JSON string, never a float."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema


def _parse_amount(value: Any) -> Decimal:
    # bool is an int subclass; a float has already lost precision somewhere.
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("amounts must be decimal strings such as \"12.50\", not JSON numbers")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal amount") from None
    else:
        raise ValueError("amounts must be decimal strings such as \"12.50\"")
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a finite amount")
    return amount


Amount = Annotated[
    Decimal,
    BeforeValidator(_parse_amount),
    PlainSerializer(lambda amount: format(amount, "f"), return_type=str, when_used="always"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "examples": ["12.50"]}),
]
"""A Decimal that is validated from a string (or int) and serialised as a string."""

Currency = Annotated[str, BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v)]
"""A currency or token code such as ``USD``, ``EUR`` or ``USDC`` (upper-cased)."""
