"""Where a notice goes: the dashboard always; a toast, a native notification or a tray
balloon (and a sound) when the seller's notification policy says so.

One :class:`Notifier` and several :class:`NotificationAdapter` s, in a fallback
chain (the model is qutebrowser's ``browser/webengine/notification.py``): the
seller's chosen adapter first, then the others in :data:`ADAPTER_ORDER`. An
adapter that cannot work here says why (:meth:`NotificationAdapter.problem`) or
raises :class:`AdapterUnavailable`, or reports later through its ``failed``
signal; the notice then goes to the next adapter, and the settings dialog shows
the reason.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any, ClassVar, Final, Protocol

from PySide6.QtCore import QObject, QRect, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices

from app.config.settings import PAUSED_INDEFINITELY, AdapterName, NotificationSettings
from app.domain.notices import LostRange, Notice, Priority, describe, describe_gap
from app.domain.policy import (
    Clock,
    Decision,
    NotificationPolicy,
    QuietWindow,
    Rules,
    disabled_kinds,
    local_now,
    order_url,
)
from app.protocol.frames import EventFrame
from app.ui.settings.store import SettingsStore
from app.ui.toasts import ToastManager, available_geometry

log = logging.getLogger("seller_notifier.ui")

ADAPTER_ORDER: Final[tuple[AdapterName, ...]] = ("in-app", "native", "tray")
"""The fallback order after the seller's own choice."""
ADAPTER_LABELS: Final[dict[AdapterName, str]] = {
    "in-app": "In-app toasts",
    "native": "Desktop notifications",
    "tray": "Tray balloon",
}
_LONGEST_TIMER: Final = timedelta(hours=6)
"""A pause's end is re-checked at least this often (QTimer intervals are 32-bit ms)."""


class AdapterUnavailable(Exception):
    """This adapter cannot show notices here; ``reason`` is a sentence for the seller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotificationAdapter(QObject):
    """One way to show a notice. Subclasses set ``name`` and implement :meth:`present`.

    Signals: ``activated(Notice)`` when the seller clicks the notice (or its
    "Open order" action); ``failed(Notice, key, reason)`` when a notice accepted
    by :meth:`present` could not be shown after all (asynchronous adapters);
    ``availability_changed()`` when :meth:`problem` changed.
    """

    activated = Signal(object)
    failed = Signal(object, object, str)
    availability_changed = Signal()

    name: ClassVar[AdapterName]

    @property
    def label(self) -> str:
        return ADAPTER_LABELS[self.name]

    def problem(self) -> str | None:
        """Why this adapter cannot be used now (None: usable, as far as is known)."""
        return None

    def present(self, notice: Notice, key: str | None, *, link: str | None) -> None:
        """Show ``notice``; replace the one shown with the same ``key`` if there is one.

        ``link``: the marketplace page of the notice's order (adapters with
        actions offer "Open order"). Raises :class:`AdapterUnavailable`.
        """
        raise NotImplementedError

    def configure(self, settings: NotificationSettings) -> None:
        """Take new settings (duration, corner …); the default ignores them."""

    def recheck(self) -> None:
        """Forget a known problem and look again (e.g. a notification service started)."""

    def clear(self) -> None:
        """Take back what is on screen (notifications were paused)."""

    def close(self) -> None:
        """Release everything before the application quits."""


class EventList(Protocol):
    """Where every event is listed, shown or not (``DashboardWindow``)."""

    def add_event(self, frame: EventFrame) -> None: ...


class SoundOutput(Protocol):
    """Plays a bundled sound (``app.ui.sound.SoundPlayer``; a recorder in tests)."""

    def play(self, name: str, volume: float) -> bool: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class AdapterState:
    """One adapter as the settings dialog shows it."""

    name: AdapterName
    label: str
    problem: str | None
    in_use: bool


def rules_from_settings(settings: NotificationSettings) -> Rules:
    """The policy's view of the seller's notification settings."""
    quiet = settings.quiet_hours
    sounds = settings.sounds
    chosen = {
        "new_order": sounds.new_order,
        "payment_received": sounds.payment_received,
        "review_received": sounds.review_received,
        "tier_upgraded": sounds.tier_upgraded,
    }
    return Rules(
        disabled_kinds=disabled_kinds(settings.types.model_dump().items()),
        min_priority=Priority(settings.min_priority),
        min_amount=Decimal(settings.min_order_amount)
        if settings.min_order_amount is not None
        else None,
        quiet=QuietWindow(quiet.start, quiet.end, frozenset(quiet.days))
        if quiet.enabled
        else None,
        paused_until=settings.paused_until,
        sound_enabled=settings.sound_enabled,
        sounds={kind: name for kind, name in chosen.items() if name != "off"},
    )


class Notifier(QObject):
    """Turns delivered events into what the seller sees and hears.

    Connect ``ClientBridge.event_received`` to :meth:`present_event` and
    ``gap_detected`` to :meth:`present_gap`. Every event is listed in the
    dashboard; the policy (filters, quiet hours, pause, bursts) decides whether
    it is also shown, through the first usable adapter, and which sound plays.
    :meth:`notify` is for the app's own notices (not configured, refused …).

    Without ``adapters`` only in-app toasts are used; without ``sound`` nothing
    plays. ``clock`` feeds the policy (quiet hours, pauses); ``open_url`` opens
    an order's page (default ``QDesktopServices.openUrl``).

    Signals: ``dashboard_requested()`` when a notice without an order page was
    clicked; ``adapters_changed()`` when the adapter in use or a reason changed;
    ``pause_ended()`` when a timed pause ran out (persist ``paused_until=None``).
    """

    dashboard_requested = Signal()
    adapters_changed = Signal()
    pause_ended = Signal()

    def __init__(
        self,
        toasts: ToastManager,
        dashboard: EventList | None = None,
        parent: QObject | None = None,
        *,
        settings: NotificationSettings | None = None,
        adapters: Sequence[NotificationAdapter] | None = None,
        sound: SoundOutput | None = None,
        clock: Clock = local_now,
        open_url: Callable[[str], bool] | None = None,
        screen_geometry: Callable[[str | None], QRect] = available_geometry,
    ) -> None:
        super().__init__(parent)
        self._toasts = toasts
        self._dashboard = dashboard
        self._sound = sound
        self._clock = clock
        self._open_url = open_url if open_url is not None else _open_in_browser
        self._screen_geometry = screen_geometry
        if adapters is None:
            from app.ui.toasts.adapter import InAppAdapter  # the adapter imports this module

            adapters = [InAppAdapter(toasts)]
        self._adapters: dict[AdapterName, NotificationAdapter] = {}
        for adapter in adapters:
            self._adapters[adapter.name] = adapter
            adapter.activated.connect(self.open_notice)
            adapter.failed.connect(partial(self._adapter_failed, adapter))
            adapter.availability_changed.connect(self._availability_changed)
        self._settings = settings if settings is not None else NotificationSettings()
        self._policy = NotificationPolicy(rules_from_settings(self._settings), clock=clock)
        self._pause_timer = QTimer(self)
        self._pause_timer.setSingleShot(True)
        self._pause_timer.timeout.connect(self._check_pause)
        self._in_use: AdapterName | None = None
        self._store: SettingsStore | None = None
        self._nowhere_logged = False
        self.events_seen = 0
        self.apply_settings(self._settings)

    # --- settings -------------------------------------------------------------------

    @property
    def settings(self) -> NotificationSettings:
        return self._settings

    @property
    def policy(self) -> NotificationPolicy:
        return self._policy

    @property
    def paused(self) -> bool:
        return self._policy.paused()

    def apply_settings(self, settings: NotificationSettings) -> None:
        """Use ``settings`` from now on: corner, screen, filters, sounds, adapter, pause."""
        was_paused = self._policy.paused()
        previous_choice = self._settings.adapter
        self._settings = settings
        self._policy.update_rules(rules_from_settings(settings))
        self._toasts.configure(
            position=settings.position,
            max_visible=settings.max_visible,
            auto_hide_seconds=settings.auto_hide_seconds,
            auto_hide=settings.auto_hide,
            screen_geometry=partial(self._screen_geometry, settings.screen),
        )
        for adapter in self._adapters.values():
            adapter.configure(settings)
        paused = self._policy.paused()
        if paused and not was_paused:
            self._clear_all()
            log.info("notifications paused until %s", settings.paused_until)
        elif was_paused and not paused:
            log.info("notifications resumed")
        self._schedule_pause_check()
        if previous_choice != settings.adapter:
            self._availability_changed()

    def follow(self, store: SettingsStore) -> None:
        """Apply ``store``'s notification settings now, and again whenever one changes."""
        self._store = store
        store.changed.connect(self._setting_changed)
        self.apply_settings(store.settings.notifications)

    def _setting_changed(self, key: str) -> None:
        if self._store is not None and key.startswith("notifications."):
            self.apply_settings(self._store.settings.notifications)

    def set_paused(self, paused: bool) -> None:
        """Pause until resumed (True) or resume (False), without a settings store."""
        until = PAUSED_INDEFINITELY if paused else None
        self.apply_settings(self._settings.model_copy(update={"paused_until": until}))

    # --- adapters -------------------------------------------------------------------

    def chain(self) -> list[NotificationAdapter]:
        """The adapters to try, in order: the chosen one, then the rest."""
        order = [self._settings.adapter, *[n for n in ADAPTER_ORDER if n != self._settings.adapter]]
        return [self._adapters[name] for name in order if name in self._adapters]

    def adapter_states(self) -> list[AdapterState]:
        """Every adapter with its problem (if any) and whether it is the one in use."""
        active = self.active_adapter()
        return [
            AdapterState(a.name, a.label, a.problem(), a.name == active) for a in self.chain()
        ]

    def active_adapter(self) -> AdapterName | None:
        """The adapter the next notice would go to (None: no way to show one)."""
        for adapter in self.chain():
            if adapter.problem() is None:
                return adapter.name
        return None

    def recheck(self) -> None:
        """Ask every adapter to look again at what it needs (notification service …)."""
        for adapter in self._adapters.values():
            adapter.recheck()
        self._availability_changed()

    # --- input ----------------------------------------------------------------------

    def present_event(self, frame: EventFrame, replayed: bool | None = None) -> Decision:
        """List ``frame`` in the dashboard; show and sound it as the policy decides.

        ``replayed``: delivered on reconnect after being missed (None: judged by age).
        """
        notice = describe(frame)
        self.events_seen += 1
        if self.events_seen == 1:
            log.info("first event received: %s (seq %d)", notice.kind, frame.seq)
        if self._dashboard is not None:
            self._dashboard.add_event(frame)
        decision = self._policy.decide(notice, frame.event, replayed=replayed)
        log.debug(
            "event seq=%d type=%s: %s → %s%s",
            frame.seq,
            notice.kind,
            notice.title,
            decision.reason,
            f", sound {decision.sound}" if decision.sound else "",
        )
        self._carry_out(decision)
        return decision

    def present_gap(self, gap: LostRange) -> None:
        self.notify(describe_gap(gap), even_if_paused=True)

    def notify(self, notice: Notice, *, even_if_paused: bool = False) -> None:
        """Show one of the app's own notices (logged too, for a headless run)."""
        log.info("notice: %s%s", notice.title, f" — {notice.body}" if notice.body else "")
        self._carry_out(self._policy.decide_app(notice, forced=even_if_paused))

    def send_test(self) -> str:
        """Show a sample new-order notice through the chain, with its sound, whatever
        the filters say; returns a sentence saying how it was shown."""
        self.recheck()
        notice = Notice(
            title="New order #TEST-1 — 42.00 USDC",
            body="1 × Test item\nThis is a test notification from Seller Notifier.",
            priority=Priority.NORMAL,
            kind="new_order",
            icon="event-new-order",
            order_id="TEST-1",
        )
        decision = self._policy.test_decision(notice)
        shown_by, played = self._carry_out(decision)
        if shown_by is None:
            return "Could not show it: " + self._why_nowhere()
        sentence = f"Sent as: {ADAPTER_LABELS[shown_by]}."
        skipped = [s for s in self.adapter_states() if s.problem and self._before(s.name, shown_by)]
        for state in skipped:
            sentence += f" {state.label} unavailable: {state.problem}."
        if played:
            sentence += f" Sound: {decision.sound}."
        return sentence

    # --- output ---------------------------------------------------------------------

    def open_notice(self, notice: Notice) -> None:
        """What a click on ``notice`` does: its order's marketplace page, or the dashboard."""
        url = order_url(self._settings.order_url_template, notice.order_id)
        if url is not None:
            log.info("opening %s", url)
            if self._open_url(url):
                return
            log.warning("could not open %s; showing the dashboard instead", url)
        self.dashboard_requested.emit()

    def close(self) -> None:
        """Stop timers and close every adapter (before the application quits)."""
        self._pause_timer.stop()
        if self._store is not None:
            _disconnect(self._store.changed, self._setting_changed)
        for adapter in self._adapters.values():
            adapter.close()
        if self._sound is not None:
            self._sound.close()

    # --- internals ------------------------------------------------------------------

    def _carry_out(self, decision: Decision) -> tuple[AdapterName | None, bool]:
        """Show and sound ``decision``: which adapter showed it, and whether a sound played."""
        shown_by = None
        if decision.notice is not None:
            shown_by = self._deliver(decision.notice, decision.key, self.chain())
        played = False
        if decision.sound and self._sound is not None:
            played = self._sound.play(decision.sound, self._settings.sounds.volume / 100)
        return shown_by, played

    def _deliver(
        self, notice: Notice, key: str | None, chain: Iterable[NotificationAdapter]
    ) -> AdapterName | None:
        link = order_url(self._settings.order_url_template, notice.order_id)
        for adapter in chain:
            if adapter.problem() is not None:
                continue
            try:
                adapter.present(notice, key, link=link)
            except AdapterUnavailable as exc:
                log.warning("%s unavailable: %s", adapter.label, exc.reason)
                self._availability_changed()
                continue
            self._note_in_use(adapter.name)
            return adapter.name
        if not self._nowhere_logged:
            self._nowhere_logged = True
            log.warning("no way to show notifications here: %s", self._why_nowhere())
        return None

    def _adapter_failed(
        self, adapter: NotificationAdapter, notice: Notice, key: object, reason: str
    ) -> None:
        log.warning("%s could not show %r: %s", adapter.label, notice.title, reason)
        chain = self.chain()
        after = chain[chain.index(adapter) + 1 :] if adapter in chain else chain
        self._deliver(notice, key if isinstance(key, str) else None, after)
        self._availability_changed()

    def _availability_changed(self) -> None:
        self._note_in_use(self.active_adapter())
        self.adapters_changed.emit()

    def _note_in_use(self, name: AdapterName | None) -> None:
        if name == self._in_use:
            return
        self._in_use = name
        chosen = self._settings.adapter
        if name is not None and name != chosen:
            problem = self._adapters[chosen].problem() if chosen in self._adapters else None
            log.info(
                "showing notifications as %s (%s: %s)",
                ADAPTER_LABELS[name],
                ADAPTER_LABELS[chosen],
                problem or "not available",
            )

    def _why_nowhere(self) -> str:
        reasons = [f"{s.label}: {s.problem}" for s in self.adapter_states() if s.problem]
        return "; ".join(reasons) or "no notification adapter is set up"

    def _before(self, name: AdapterName, other: AdapterName) -> bool:
        order = [a.name for a in self.chain()]
        return order.index(name) < order.index(other)

    def _clear_all(self) -> None:
        for adapter in self._adapters.values():
            adapter.clear()

    def _schedule_pause_check(self) -> None:
        self._pause_timer.stop()
        until = self._settings.paused_until
        if until is None or not self._policy.paused():
            return
        left = min(until - self._clock(), _LONGEST_TIMER)
        self._pause_timer.start(max(1, int(left.total_seconds() * 1000) + 1))

    def _check_pause(self) -> None:
        if self._policy.paused():
            self._schedule_pause_check()
            return
        log.info("the pause is over: notifications resumed")
        self.pause_ended.emit()


def _disconnect(signal: Any, slot: Any) -> None:
    """Drop one connection; fine if it is already gone (PySide warns, then errors)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            signal.disconnect(slot)
        except (RuntimeError, TypeError, SystemError):
            pass


def _open_in_browser(url: str) -> bool:
    return bool(QDesktopServices.openUrl(QUrl(url)))
