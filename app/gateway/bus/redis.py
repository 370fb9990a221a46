"""The shared event log: Redis, for several gateway processes behind a load balancer.

Layout (``prefix`` defaults to ``sn:``; ``{wallet}`` is a Redis Cluster hash tag,
so one wallet's keys live on one node)::

    sn:{0xWallet}:log    stream, one entry per event, entry id "<seq>-0",
                         fields i (event id), t (ms since the epoch), e (event JSON),
                         k (present when the id was an idempotency key)
    sn:{0xWallet}:head   counter: the wallet's newest seq
    sn:{0xWallet}:ids    hash: idempotency key -> "<seq> <ms>"
    sn:events            pub/sub channel: every append, for live delivery
    sn:revocations       pub/sub channel: every revocation
    sn:revoked:tokens    hash: token id -> revocation time
    sn:revoked:wallets   hash: wallet -> time of its latest "revoke all"
    sn:nonce:<nonce>     a used sign-in nonce, expiring with it

One Lua script appends atomically: idempotency check, ``INCR`` of the head,
``XADD`` with the seq as the entry id, retention by length and age (``XTRIM
MINID``, forgetting the trimmed entries' keys), and a ``PUBLISH`` of the event;
the script's ``TIME`` stamps it, so every node agrees on ``ts``. Appends are
pipelined: those queued while a round trip is in flight go together in the
next one, in call order. Reads are batched (``XRANGE … COUNT``).

Live delivery: every gateway subscribes to ``sn:events`` and hands the events
of wallets it has connections for to its deliveries; one lost notification
only delays an event until the next one (or a reconnection) makes the
delivery read the log. Publishes are acknowledged once Redis has them;
durability is Redis's own (``appendonly yes``, ``appendfsync always`` for
no loss on power failure). Without Redis nothing is silently dropped: appends
and reads raise :class:`~app.gateway.log.EventLogError` and :meth:`check`
fails until Redis answers again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError

from app.gateway.backend import Follower, Revocation
from app.gateway.bus.group_commit import AppendRequest, GroupCommitQueue
from app.gateway.bus.sqlite import DEFAULT_RETAIN
from app.gateway.log import Appended, EventLogClosed, EventLogError
from app.gateway.tokens import TokenClaims
from app.protocol.events import SellerEvent, parse_event
from app.protocol.frames import EventFrame

DEFAULT_PREFIX: Final = "sn:"
TRIM_BATCH: Final = 1000
"""Entries one append may trim at most: retention catches up over several appends
rather than blocking Redis for one long script."""
_RECONNECT_DELAYS: Final = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)

_log = logging.getLogger("seller_notifier.gateway.redis")

# KEYS: log, head, ids. ARGV: key ('' for none), fresh id, event JSON, retain,
# retain age in ms (0: none), events channel, wallet, trim batch.
# Returns {duplicate (0/1), seq, ms, id}.
_APPEND: Final = """
local log, head, ids = KEYS[1], KEYS[2], KEYS[3]
local key, event = ARGV[1], ARGV[3]
local retain, age, batch = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[8])
local function field(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return nil
end
local function seq_of(entry_id)
  return tonumber(string.match(entry_id, '^(%d+)'))
end
if key ~= '' then
  local known = redis.call('HGET', ids, key)
  if known then
    local space = string.find(known, ' ', 1, true)
    local seq, ms = string.sub(known, 1, space - 1), string.sub(known, space + 1)
    return {1, tonumber(seq), tonumber(ms), key}
  end
end
local seq = redis.call('INCR', head)
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local id = ARGV[2]
if key ~= '' then
  id = key
  redis.call('XADD', log, seq .. '-0', 'i', id, 't', ms, 'e', event, 'k', '1')
  redis.call('HSET', ids, key, seq .. ' ' .. ms)
else
  redis.call('XADD', log, seq .. '-0', 'i', id, 't', ms, 'e', event)
end
local oldest = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)
local first = seq_of(oldest[1][1])
local keep = seq - retain + 1
if age > 0 and tonumber(field(oldest[1][2], 't')) < ms - age then
  local young = first
  for _, entry in ipairs(redis.call('XRANGE', log, '-', '(' .. seq .. '-0', 'COUNT', batch)) do
    if tonumber(field(entry[2], 't')) >= ms - age then break end
    young = seq_of(entry[1]) + 1
  end
  if young > keep then keep = young end
end
if keep > first + batch then keep = first + batch end
if keep > first then
  for _, entry in ipairs(redis.call('XRANGE', log, '-', '(' .. keep .. '-0')) do
    if field(entry[2], 'k') then redis.call('HDEL', ids, field(entry[2], 'i')) end
  end
  redis.call('XTRIM', log, 'MINID', keep .. '-0')
end
redis.call('PUBLISH', ARGV[6], cjson.encode({ARGV[7], seq, id, ms}) .. '\\n' .. event)
return {0, seq, ms, id}
"""

# KEYS: revoked wallets hash. ARGV: wallet, time, revocations channel, message.
# A later "revoke all" wins; an older one arriving late does not un-revoke anything.
_REVOKE_WALLET: Final = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old or tonumber(old) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
"""


class RedisEventLog:
    """:class:`~app.gateway.backend.GatewayBackend` on the Redis server at ``url``
    (``redis://[:password@]host:port/db``, ``rediss://`` for TLS).

    ``retain``/``retain_age``: events kept per wallet, by number and by age.
    ``connections``: at most this many connections to Redis (one of them for
    notifications); calls beyond wait for one, up to ``timeout`` seconds. Call
    :meth:`connect` first to fail early with a readable message.
    """

    def __init__(
        self,
        url: str,
        *,
        retain: int = DEFAULT_RETAIN,
        retain_age: timedelta | None = None,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 5.0,
        connections: int = 32,
    ) -> None:
        if retain < 1:
            raise ValueError("retain must be at least 1")
        if retain_age is not None and retain_age <= timedelta(0):
            raise ValueError("retain_age must be positive")
        self.url = url
        self._retain = retain
        self._retain_age_ms = 0 if retain_age is None else int(retain_age.total_seconds() * 1000)
        self._prefix = prefix
        # A bounded pool that waits for a free connection: a burst of sign-ins must
        # queue, not fail. No retries: a pipeline retried after a lost reply would
        # append twice; a failed call is reported to the publisher, who retries with
        # the same id.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=connections,
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            decode_responses=False,
        )
        self._redis: Redis = Redis.from_pool(pool)
        self._append_sha: str | None = None
        self._revoke_wallet = self._redis.register_script(_REVOKE_WALLET)
        self._events_channel = f"{prefix}events"
        self._revocations_channel = f"{prefix}revocations"
        self._appends = GroupCommitQueue(
            self._write_batch, where="in Redis", task_name="redis-log-writer"
        )
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = False
        self._closed = False

    # --- lifecycle --------------------------------------------------------------------

    async def connect(self) -> None:
        """Check that Redis answers and load the append script; raises EventLogError."""
        try:
            await self._redis.ping()
            self._append_sha = str(await self._redis.script_load(_APPEND))
        except (RedisError, OSError) as exc:
            raise EventLogError(f"cannot use Redis at {_safe(self.url)}: {exc}") from None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        await self._appends.drain()
        await self._redis.aclose()

    # --- EventLog ---------------------------------------------------------------------

    async def append(self, wallet: str, event: SellerEvent, key: str | None = None) -> Appended:
        self._check_open()
        return await self._appends.append(wallet, event, key)

    async def read(self, wallet: str, after_seq: int, limit: int) -> list[EventFrame]:
        self._check_open()
        try:
            entries: list[tuple[bytes, dict[bytes, bytes]]] = await self._redis.xrange(
                self._key(wallet, "log"), min=f"{after_seq + 1}-0", max="+", count=limit
            )  # type: ignore[assignment]  # bytes: decode_responses=False
        except (RedisError, OSError) as exc:
            raise EventLogError(f"cannot read the event log in Redis: {exc}") from None
        return [_frame(wallet, entry_id, fields) for entry_id, fields in entries]

    async def bounds(self, wallet: str) -> tuple[int, int]:
        self._check_open()
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.get(self._key(wallet, "head"))
                pipe.xrange(self._key(wallet, "log"), min="-", max="+", count=1)
                head_raw, oldest = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise EventLogError(f"cannot read the event log in Redis: {exc}") from None
        head = int(head_raw) if head_raw is not None else 0
        if not oldest or head == 0:
            return (0, head)
        return (_seq(oldest[0][0]), head)

    # --- GatewayBackend ----------------------------------------------------------------

    async def use_nonce(self, nonce: str, expires_at: datetime) -> bool:
        self._check_open()
        try:
            fresh = await self._redis.set(
                f"{self._prefix}nonce:{nonce}",
                b"1",
                nx=True,
                pxat=max(int(expires_at.timestamp() * 1000), _now_ms() + 1),
            )
        except (RedisError, OSError) as exc:
            raise EventLogError(f"cannot reach Redis: {exc}") from None
        return bool(fresh)

    async def revoke(self, revocation: Revocation) -> None:
        self._check_open()
        at = revocation.at.timestamp()
        message = json.dumps(
            {"token_id": revocation.token_id, "wallet": revocation.wallet, "at": at}
        )
        try:
            if revocation.token_id is not None:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.hset(f"{self._prefix}revoked:tokens", revocation.token_id, repr(at))
                    pipe.publish(self._revocations_channel, message)
                    await pipe.execute()
            else:
                assert revocation.wallet is not None  # a revocation names one or the other
                await self._revoke_wallet(
                    keys=[f"{self._prefix}revoked:wallets"],
                    args=[revocation.wallet, repr(at), self._revocations_channel, message],
                )
        except (RedisError, OSError) as exc:
            raise EventLogError(f"cannot store the revocation in Redis: {exc}") from None

    async def find_revocation(self, claims: TokenClaims) -> Revocation | None:
        self._check_open()
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hget(f"{self._prefix}revoked:tokens", claims.token_id)
                pipe.hget(f"{self._prefix}revoked:wallets", claims.wallet)
                by_token, by_wallet = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise EventLogError(f"cannot reach Redis: {exc}") from None
        if by_token is not None:
            return Revocation(at=_time(float(by_token)), token_id=claims.token_id)
        if by_wallet is not None and float(by_wallet) >= claims.issued_at.timestamp():
            return Revocation(at=_time(float(by_wallet)), wallet=claims.wallet)
        return None

    async def follow(self, follower: Follower) -> None:
        if self._listener is not None:
            raise RuntimeError("this event log is already followed")
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._listener = asyncio.create_task(self._listen(follower, ready), name="redis-follow")
        await ready

    async def check(self) -> None:
        self._check_open()
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            raise EventLogError(f"Redis at {_safe(self.url)} does not answer: {exc}") from None
        if self._listener is not None and not self._subscribed:
            raise EventLogError("not (yet) subscribed to Redis notifications")

    # --- writing ----------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise EventLogClosed("the event log is closed")

    def _key(self, wallet: str, name: str) -> str:
        return f"{self._prefix}{{{wallet}}}:{name}"

    async def _write_batch(self, batch: list[AppendRequest]) -> list[Appended | BaseException]:
        replies = await self._run(batch)
        return [
            reply if isinstance(reply, BaseException) else _appended(request.wallet, reply)
            for request, reply in zip(batch, replies, strict=True)
        ]

    async def _run(self, batch: list[AppendRequest]) -> list[Any]:
        """One pipelined round trip for ``batch``; reloads the script if Redis lost it."""
        if self._append_sha is None:
            self._append_sha = str(await self._redis.script_load(_APPEND))
        replies = await self._pipeline(batch)
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:
            # Redis restarted (its script cache is empty): nothing ran for these.
            self._append_sha = str(await self._redis.script_load(_APPEND))
            again = await self._pipeline([batch[i] for i in missing])
            for index, reply in zip(missing, again, strict=True):
                replies[index] = reply
        return replies

    async def _pipeline(self, batch: list[AppendRequest]) -> list[Any]:
        assert self._append_sha is not None
        retain, age = str(self._retain), str(self._retain_age_ms)
        batch_size = str(TRIM_BATCH)
        async with self._redis.pipeline(transaction=False) as pipe:
            for request in batch:
                wallet = request.wallet
                pipe.evalsha(
                    self._append_sha,
                    3,
                    self._key(wallet, "log"),
                    self._key(wallet, "head"),
                    self._key(wallet, "ids"),
                    request.key or "",
                    uuid.uuid4().hex,
                    request.event_json,
                    retain,
                    age,
                    self._events_channel,
                    wallet,
                    batch_size,
                )
            return list(await pipe.execute(raise_on_error=False))

    # --- following --------------------------------------------------------------------

    async def _listen(self, follower: Follower, ready: asyncio.Future[None]) -> None:
        failures = 0
        while True:
            pubsub: PubSub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self._events_channel, self._revocations_channel)
                confirmed = 0
                while confirmed < 2:
                    message = await pubsub.get_message(timeout=None)
                    if message is not None and message["type"] == "subscribe":
                        confirmed += 1
                self._subscribed = True
                if not ready.done():
                    ready.set_result(None)
                elif failures:
                    _log.info("subscribed to Redis notifications again")
                    follower.lost_track()
                failures = 0
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is not None and message["type"] == "message":
                        self._dispatch(follower, message["channel"], message["data"])
            except (RedisError, OSError) as exc:
                self._subscribed = False
                if not ready.done():
                    ready.set_exception(
                        EventLogError(f"cannot subscribe to Redis at {_safe(self.url)}: {exc}")
                    )
                    return
                if failures == 0:
                    _log.warning("lost the Redis notifications (%s); reconnecting", exc)
                delay = _RECONNECT_DELAYS[min(failures, len(_RECONNECT_DELAYS) - 1)]
                failures += 1
                await asyncio.sleep(delay)
            finally:
                try:
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                except (RedisError, OSError):
                    pass

    def _dispatch(self, follower: Follower, channel: bytes, data: bytes) -> None:
        try:
            if channel == self._events_channel.encode():
                header, _, event_json = data.partition(b"\n")
                wallet, seq, event_id, ms = json.loads(header)
                if follower.wants(wallet, seq):
                    follower.appended(
                        EventFrame.model_construct(
                            wallet=wallet,
                            seq=seq,
                            id=event_id,
                            ts=_time_ms(ms),
                            event=parse_event(json.loads(event_json)),
                        )
                    )
            elif channel == self._revocations_channel.encode():
                body = json.loads(data)
                follower.revoked(
                    Revocation(
                        at=_time(float(body["at"])),
                        token_id=body.get("token_id"),
                        wallet=body.get("wallet"),
                    )
                )
        except (ValueError, KeyError, TypeError) as exc:
            # Another program writing to our channels; the log itself stays authoritative.
            _log.warning("ignored an unreadable notification on %r: %s", channel, exc)


def _appended(wallet: str, reply: list[Any]) -> Appended:
    duplicate, seq, ms, event_id = reply
    event_id = event_id.decode() if isinstance(event_id, bytes) else str(event_id)
    return Appended(wallet, int(seq), event_id, _time_ms(int(ms)), duplicate=bool(duplicate))


def _frame(wallet: str, entry_id: bytes, fields: dict[bytes, bytes]) -> EventFrame:
    # model_construct: written valid by a gateway; the event itself is parsed.
    return EventFrame.model_construct(
        wallet=wallet,
        seq=_seq(entry_id),
        id=fields[b"i"].decode(),
        ts=_time_ms(int(fields[b"t"])),
        event=parse_event(json.loads(fields[b"e"])),
    )


def _seq(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


def _time_ms(ms: int) -> datetime:
    # Exact milliseconds: every node and every replay must produce the same ts.
    return datetime.fromtimestamp(ms // 1000, tz=UTC).replace(microsecond=(ms % 1000) * 1000)


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def _safe(url: str) -> str:
    """The URL without a password, for messages and logs."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
