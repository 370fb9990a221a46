"""Pure seller logic: what an event means to a seller. No I/O, no Qt."""
