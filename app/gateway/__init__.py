"""The gateway: an asyncio websockets server with a durable per-wallet event log. No Qt."""
