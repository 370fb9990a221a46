"""Event-log backends: ``sqlite`` (one gateway, the default); Redis comes later."""
