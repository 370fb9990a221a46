"""How the dashboard writes times: local time, short when it is today."""

from __future__ import annotations

from datetime import datetime


def _today(now: datetime | None) -> object:
    return (now or datetime.now().astimezone()).date()


def short_time(moment: datetime, *, now: datetime | None = None) -> str:
    """``14:05`` today, ``24 Nov 14:05`` on another day, in the local time zone."""
    local = moment.astimezone()
    return local.strftime("%H:%M") if local.date() == _today(now) else local.strftime("%d %b %H:%M")


def clock(moment: datetime, *, now: datetime | None = None) -> str:
    """``14:05:09`` today, ``24 Nov 14:05`` on another day, in the local time zone."""
    local = moment.astimezone()
    return (
        local.strftime("%H:%M:%S") if local.date() == _today(now) else local.strftime("%d %b %H:%M")
    )
