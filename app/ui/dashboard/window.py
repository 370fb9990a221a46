"""The dashboard window: metric cards, orders, the revenue chart, activity, connection.

Everything it shows comes from the local store (:class:`~app.store.ClientStore`),
which has already folded each event by the time the window hears of it; the
window only decides *when* to read. Live events are batched (one update per
:data:`~app.ui.dashboard.batching.INTERVAL_MS` at most) and skipped entirely while
the window is hidden: it reloads once when it is opened again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Final

from PySide6.QtCore import QByteArray, QEvent, QModelIndex, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.client.status import ConnectionState, ConnectionStatus
from app.domain.cache import CacheRegistry, Unregister
from app.domain.folding import AnalyticsSnapshot, Kind, Order, Tier, status_label, subject_of
from app.domain.metrics import RatingSummary, compute_metrics, main_currency, week_start
from app.domain.notices import Notice, kind_label
from app.protocol.frames import EventFrame
from app.store import ClientStore, StoreError
from app.ui.dashboard.activity import MAX_ROWS, ActivityDelegate, ActivityModel
from app.ui.dashboard.batching import UpdateBatcher
from app.ui.dashboard.cards import MetricsPanel
from app.ui.dashboard.chart import RevenueChart
from app.ui.dashboard.connection_panel import STATE_WORDS, ConnectionPanel, StaleBanner
from app.ui.dashboard.export import write_orders_csv
from app.ui.dashboard.order_dialog import OrderDialog
from app.ui.dashboard.orders_model import (
    BUYER,
    ITEMS,
    ORDER,
    PLACED,
    STATUS,
    TOTAL,
    UPDATED,
    OrdersModel,
)
from app.ui.dashboard.times import short_time
from app.ui.icons import svg_icon

log = logging.getLogger("seller_notifier.ui")

TITLE: Final = "Seller Notifier — Dashboard"
DEFAULT_SIZE: Final = (1180, 760)
ALL_STATUSES: Final = "All statuses"
CACHE_KEYS: Final = (
    "orders", "order:*", "reviews", "tier", "profile", "analytics", "analytics:*", "notifications",
)  # fmt: skip
"""The cache keys the window shows data for; an invalidation of one reloads its part."""
_COLUMN_WIDTHS: Final = {ORDER: 100, PLACED: 90, BUYER: 100, TOTAL: 115, STATUS: 85, UPDATED: 90}

WINDOW_STYLE: Final = """
QLabel#sectionTitle { font-weight: 600; font-size: 11pt; }
QLabel#unread { color: palette(highlight); font-weight: 600; }
QFrame#connectionPanel { border-top: 1px solid palette(midlight); }
"""

Clock = Callable[[], datetime]
RecentEvents = Callable[[int], list[EventFrame]]
"""Returns up to N stored events, newest first (``ClientStore.recent``)."""


def local_now() -> datetime:
    return datetime.now().astimezone()


def _section_title(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setObjectName("sectionTitle")
    label.setAccessibleName(text.replace("&", ""))
    return label


class DashboardWindow(QMainWindow):
    """The seller's overview. Give it the store; feed it :meth:`add_event` (every
    delivered event) and :meth:`update_status` (every connection status).

    Without a store (None, or only a function returning stored events), the window
    keeps an in-memory store of its own: it records what :meth:`add_event` gets
    (and the events ``recent`` returns, when it first opens). With a store, the
    client records events and the window only reads.

    ``caches``: invalidations of :data:`CACHE_KEYS` reload the matching parts.
    ``state_file``: where size, position and column layout are remembered (INI).
    ``wallet``: whose data to show (default: the wallet the store heard from last).
    ``clock``: the current local time (tests pass a fixed one).

    ``unread_changed(int)`` tells how many notices are unread (for the tray icon).
    Closing the window hides it; call :meth:`shutdown` before deleting it.
    """

    unread_changed = Signal(int)

    def __init__(
        self,
        store: ClientStore | RecentEvents | None = None,
        *,
        caches: CacheRegistry | None = None,
        state_file: Path | None = None,
        wallet: str | None = None,
        clock: Clock = local_now,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._recent: RecentEvents | None = None
        self._owns_store = not isinstance(store, ClientStore)
        if isinstance(store, ClientStore):
            self._store = store
        else:
            self._recent = store
            self._store = ClientStore(":memory:")
        self._state_file = state_file
        self._wallet = wallet
        self._clock = clock
        self._dirty = True
        self._restored = False
        self._unread = -1
        self._rating = RatingSummary()
        self._tier: Tier | None = None
        self._analytics: AnalyticsSnapshot | None = None
        self._status: ConnectionStatus | None = None
        self._was_connected = False
        self._stale_since: datetime | None = None
        self._shown_day: date | None = None
        self._batcher = UpdateBatcher[EventFrame | str](self._apply, parent=self)
        self._unregister: list[Unregister] = []
        self.order_dialog: OrderDialog | None = None
        self.last_export: Path | None = None

        self.setWindowTitle(TITLE)
        self.setWindowIcon(svg_icon("seller-notifier"))
        self.setAccessibleName("Dashboard")
        self.setStyleSheet(WINDOW_STYLE)
        self.resize(*DEFAULT_SIZE)
        self._build()
        self._shortcuts()
        self._minute = QTimer(self)
        self._minute.setInterval(60_000)
        self._minute.timeout.connect(self._tick)
        # A live batch updates the rows in one turn of the event loop and the cards
        # and chart in the next: two short stalls instead of one twice as long.
        self._figures_later = QTimer(self)
        self._figures_later.setSingleShot(True)
        self._figures_later.setInterval(0)
        self._figures_later.timeout.connect(self._refresh_figures)
        if caches is not None:
            for key in CACHE_KEYS:
                self._unregister.append(caches.register(key, self._batcher.add))

    # --- building -------------------------------------------------------------------

    def _build(self) -> None:
        central = QWidget(self)
        central.setAccessibleName("Dashboard content")
        self.setCentralWidget(central)

        self.banner = StaleBanner(central)
        self.cards = MetricsPanel(central)

        # Orders: a filter row over the table.
        orders_box = QWidget(central)
        orders_box.setAccessibleName("Orders")
        self.orders_title = _section_title("Orders", orders_box)
        status_caption = QLabel("&Status:", orders_box)
        status_caption.setAccessibleName("Status filter caption")
        self.status_filter = QComboBox(orders_box)
        self.status_filter.setAccessibleName("Filter by status")
        self.status_filter.addItem(ALL_STATUSES, None)
        self.status_filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.status_filter.view().setAccessibleName("Statuses")
        status_caption.setBuddy(self.status_filter)
        self.search = QLineEdit(orders_box)
        self.search.setAccessibleName("Search orders")
        self.search.setPlaceholderText("Search order, buyer, item… (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.export_button = QPushButton("E&xport CSV…", orders_box)
        self.export_button.setAccessibleName("Export orders to CSV")
        self.export_button.setToolTip("Save the orders shown to a CSV file (Ctrl+E)")
        self.export_note = QLabel("", orders_box)
        self.export_note.setAccessibleName("Export result")

        self.orders = OrdersModel(self)
        self.table = QTableView(orders_box)
        self.table.setAccessibleName("Orders table")
        self.table.setAccessibleDescription("Press Enter or double-click to open an order")
        self.table.setModel(self.orders)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(PLACED, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTabKeyNavigation(False)
        vertical = self.table.verticalHeader()
        vertical.setVisible(False)
        # Fixed row heights: the view never measures 10,000 rows.
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.table.horizontalHeader()
        header.setAccessibleName("Orders columns")
        header.setHighlightSections(False)
        for column, width in _COLUMN_WIDTHS.items():
            header.resizeSection(column, width)
        header.setSectionResizeMode(ITEMS, QHeaderView.ResizeMode.Stretch)

        filters = QHBoxLayout()
        filters.addWidget(self.orders_title)
        filters.addSpacing(12)
        filters.addWidget(status_caption)
        filters.addWidget(self.status_filter)
        filters.addWidget(self.search, 1)
        filters.addWidget(self.export_button)
        orders_layout = QVBoxLayout(orders_box)
        orders_layout.setContentsMargins(0, 0, 0, 0)
        orders_layout.addLayout(filters)
        orders_layout.addWidget(self.table, 1)
        orders_layout.addWidget(self.export_note)

        self.chart = RevenueChart(central)

        # Activity: the notification history.
        activity_box = QWidget(central)
        activity_box.setAccessibleName("Activity")
        activity_title = _section_title("Activity", activity_box)
        self.unread_label = QLabel("", activity_box)
        self.unread_label.setObjectName("unread")
        self.unread_label.setAccessibleName("Unread notices")
        self.mark_read_button = QPushButton("&Mark all read", activity_box)
        self.mark_read_button.setAccessibleName("Mark all notices read")
        self.activity = ActivityModel(self)
        self.activity_view = QListView(activity_box)
        self.activity_view.setAccessibleName("Activity list")
        self.activity_view.setAccessibleDescription(
            "Recent notices, newest first; Enter opens the order a notice is about"
        )
        self.activity_view.setModel(self.activity)
        self.activity_view.setItemDelegate(ActivityDelegate(self.activity_view))
        self.activity_view.setUniformItemSizes(True)
        self.activity_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        activity_header = QHBoxLayout()
        activity_header.addWidget(activity_title)
        activity_header.addWidget(self.unread_label)
        activity_header.addStretch(1)
        activity_header.addWidget(self.mark_read_button)
        activity_layout = QVBoxLayout(activity_box)
        activity_layout.setContentsMargins(0, 0, 0, 0)
        activity_layout.addLayout(activity_header)
        activity_layout.addWidget(self.activity_view, 1)

        self.side = QSplitter(Qt.Orientation.Vertical, central)
        self.side.setAccessibleName("Chart and activity")
        self.side.addWidget(self.chart)
        self.side.addWidget(activity_box)
        self.side.setSizes([300, 360])
        self.main = QSplitter(Qt.Orientation.Horizontal, central)
        self.main.setAccessibleName("Orders and side panel")
        self.main.addWidget(orders_box)
        self.main.addWidget(self.side)
        self.main.setStretchFactor(0, 3)
        self.main.setStretchFactor(1, 2)
        self.main.setSizes([760, 400])

        self.connection = ConnectionPanel(central)

        layout = QVBoxLayout(central)
        layout.setContentsMargins(12, 10, 12, 4)
        layout.setSpacing(10)
        layout.addWidget(self.banner)
        layout.addWidget(self.cards)
        layout.addWidget(self.main, 1)
        layout.addWidget(self.connection)

        self.setTabOrder(self.status_filter, self.search)
        self.setTabOrder(self.search, self.export_button)
        self.setTabOrder(self.export_button, self.table)
        self.setTabOrder(self.table, self.chart.currency)
        self.setTabOrder(self.chart.currency, self.mark_read_button)
        self.setTabOrder(self.mark_read_button, self.activity_view)

        self.status_filter.currentIndexChanged.connect(self._status_chosen)
        self.search.textChanged.connect(self._search_changed)
        self.export_button.clicked.connect(lambda: self.export_csv())
        # Enter (and a double click, or a single one where the desktop says so).
        self.table.activated.connect(self._open_row)
        self.table.doubleClicked.connect(self._open_row)
        self.mark_read_button.clicked.connect(self.mark_all_read)
        self.activity_view.clicked.connect(self._activity_clicked)
        self.activity_view.activated.connect(self._activity_activated)
        self.chart.currency_chosen.connect(lambda _currency: self._refresh_figures())
        self.orders.modelReset.connect(self._count_orders)
        self.orders.rowsInserted.connect(self._count_orders)
        self.orders.rowsRemoved.connect(self._count_orders)

    def _shortcuts(self) -> None:
        def bind(
            keys: QKeySequence | QKeySequence.StandardKey | str, slot: Callable[[], object]
        ) -> None:
            QShortcut(QKeySequence(keys), self).activated.connect(slot)

        bind(QKeySequence.StandardKey.Find, self._focus_search)
        bind("Ctrl+E", self.export_csv)
        bind(QKeySequence.StandardKey.Refresh, self.reload)
        bind("Ctrl+W", self.close)
        bind("Escape", self.close)

    # --- public ---------------------------------------------------------------------

    def open(self) -> None:
        """Show the window in front, with current data (read from the store if needed)."""
        if not self._restored:
            self._restore_state()
        self._batcher.flush_now()
        if self._dirty:
            self.reload()
        self.show()
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()
        self._minute.start()

    def add_event(self, frame: EventFrame) -> None:
        """A delivered event (already in the store): shown with the next batch."""
        self.connection.note_event(self._clock())
        if self._owns_store:
            self._remember([frame])
        self._batcher.add(frame)

    def add_notice(self, notice: Notice) -> None:
        """List one of the app's own notices (missed events …) in the activity."""
        try:
            self._store.add_notice(notice)
        except StoreError as exc:
            log.error("could not keep the notice %r: %s", notice.title, exc)
            return
        self._batcher.add("notice")

    @property
    def store(self) -> ClientStore:
        """The store the window reads (its own in-memory one if it was given none)."""
        return self._store

    def _remember(self, frames: list[EventFrame]) -> None:
        for frame in frames:
            try:
                self._store.record(frame)
            except StoreError as exc:
                log.error("could not keep event %s in memory: %s", frame.seq, exc)

    def update_status(self, status: ConnectionStatus, at: datetime | None = None) -> None:
        """A connection status from the client: the connection panel and the offline banner.

        ``at``: when it came (default now), for a status heard before the window existed.
        """
        previous = self._status
        self._status = status
        self.connection.update_status(status)
        if status.state is ConnectionState.CONNECTED:
            self._was_connected = True
            self._stale_since = None
        elif previous is not None and previous.state is ConnectionState.CONNECTED:
            self._stale_since = at or self._clock()  # live until this moment
        self._refresh_banner()

    def set_wallet(self, wallet: str | None) -> None:
        """Show ``wallet``'s data (None: the wallet the store heard from last)."""
        if wallet != self._wallet:
            self._wallet = wallet
            self._dirty = True
            if self.isVisible():
                self.reload()
            self.refresh_unread()

    def reload(self) -> None:
        """Read everything again from the store."""
        self._batcher.flush_now()
        self._dirty = False
        store = self._store
        if self._recent is not None:
            recent, self._recent = self._recent, None
            try:
                self._remember(list(reversed(recent(MAX_ROWS))))
            except Exception:  # a broken source must not take the window down
                log.exception("could not read the stored events")
        wallet = self.wallet
        try:
            self.orders.set_orders(store.orders(wallet))
            self._rating = store.rating_summary(wallet)
            self._tier = store.tier(wallet) if wallet else None
            self._analytics = store.latest_analytics(wallet) if wallet else None
            self.activity.set_notices(store.notices(MAX_ROWS, wallet))
        except StoreError as exc:  # a broken store must not take the window down
            log.error("could not read the dashboard's data: %s", exc)
            self.orders.set_orders([])
            self.activity.set_notices([])
        self._refresh_statuses()
        self._refresh_figures()
        self.refresh_unread()
        self._refresh_banner()

    def flush(self) -> None:
        """Apply waiting live updates now (instead of at the end of the interval)."""
        self._batcher.flush_now()
        if self._figures_later.isActive():
            self._figures_later.stop()
            self._refresh_figures()

    @property
    def wallet(self) -> str | None:
        """Whose data is shown (None: every wallet in the store)."""
        if self._wallet is not None:
            return self._wallet
        try:
            latest = self._store.latest_position()
        except StoreError:
            return None
        return latest[0] if latest else None

    @property
    def batches(self) -> int:
        """How many live batches were applied (each is at most one repaint)."""
        return self._batcher.flushes

    def unread_count(self) -> int:
        return max(self._unread, 0)

    def refresh_unread(self) -> None:
        """Count unread notices; ``unread_changed`` is emitted when the count changed."""
        try:
            count = self._store.unread_count(self.wallet)
        except StoreError as exc:
            log.error("could not count unread notices: %s", exc)
            count = 0
        self.unread_label.setText(f"{count:,} unread" if count else "")
        self.mark_read_button.setEnabled(count > 0)
        if count != self._unread:
            self._unread = count
            self.unread_changed.emit(count)

    def mark_all_read(self) -> None:
        try:
            self._store.mark_all_read(self.wallet)
        except StoreError as exc:
            log.error("could not mark notices read: %s", exc)
            return
        self.activity.mark_read(None)
        self.refresh_unread()

    def open_order(self, wallet: str, order_id: str) -> OrderDialog | None:
        """Show one order's details (None if the store does not know it)."""
        store = self._store
        try:
            order = store.order(wallet, order_id)
            if order is None:
                return None
            payments = store.payments(wallet, order_id)
            reviews = store.reviews(wallet, order_id)
            history = store.order_events(wallet, order_id)
        except StoreError as exc:
            log.error("could not read order %s: %s", order_id, exc)
            return None
        if self.order_dialog is None:
            self.order_dialog = OrderDialog(self)
        self.order_dialog.show_order(order, payments=payments, reviews=reviews, history=history)
        self.order_dialog.show()
        self.order_dialog.raise_()
        self.order_dialog.activateWindow()
        return self.order_dialog

    def export_csv(self, path: Path | None = None) -> Path | None:
        """Write the orders shown (filtered and sorted as on screen) to ``path``, asking
        where if None; returns the file written, None if cancelled or failed."""
        if path is None:
            suggested = Path.home() / f"orders-{self._clock():%Y-%m-%d}.csv"
            chosen, _ = QFileDialog.getSaveFileName(
                self, "Export orders", str(suggested), "CSV files (*.csv);;All files (*)"
            )
            if not chosen:
                return None
            path = Path(chosen)
        try:
            count = write_orders_csv(self.orders.visible_orders(), path)
        except OSError as exc:
            message = f"Could not export to {path}: {exc.strerror or exc}"
            log.error("%s", message)
            self.export_note.setText(message)
            return None
        self.export_note.setText(f"Exported {count:,} order{'s' if count != 1 else ''} to {path}")
        self.last_export = path
        return path

    def rows(self) -> list[tuple[str, str, str, str]]:
        """The activity list as text, top first: (time, type, title, seq)."""
        self._batcher.flush_now()
        if self._dirty:
            self.reload()
        rows = []
        for row in range(self.activity.rowCount()):
            notice = self.activity.notice_at(row).notice
            when = short_time(notice.ts) if notice.ts else ""
            seq = str(notice.seq) if notice.seq is not None else ""
            rows.append((when, kind_label(notice.kind), notice.title, seq))
        return rows

    def banner_text(self) -> str:
        """What the offline banner says ("" while it is hidden)."""
        return self.banner.text()

    def save_state(self) -> None:
        """Remember size, position and layout in ``state_file`` (if one was given)."""
        if self._state_file is None:
            return
        settings = QSettings(str(self._state_file), QSettings.Format.IniFormat)
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/main_splitter", self.main.saveState())
        settings.setValue("window/side_splitter", self.side.saveState())
        settings.setValue("orders/header", self.table.horizontalHeader().saveState())
        settings.sync()

    def shutdown(self) -> None:
        """Remember the layout, stop updates and leave the cache registry (before deleting)."""
        if self.isVisible() or self._restored:
            self.save_state()
        self._minute.stop()
        self._figures_later.stop()
        self._batcher.stop()
        for unregister in self._unregister:
            unregister()
        self._unregister.clear()
        if self.order_dialog is not None:
            self.order_dialog.hide()
        if self._owns_store:
            self._store.close()  # reads now raise StoreError, which every reader handles

    # --- Qt events ------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        # The app lives in the tray: closing the window only hides it.
        event.ignore()
        self.save_state()
        self._minute.stop()
        self.hide()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (
            QEvent.Type.PaletteChange,
            QEvent.Type.ApplicationPaletteChange,
            QEvent.Type.StyleChange,
        ) and hasattr(self, "chart"):  # style sheets change the palette while building
            # The window's palette: its children only get it after this event.
            self.chart.apply_palette(self.palette())
        super().changeEvent(event)

    # --- live updates -----------------------------------------------------------------

    def _apply(self, batch: list[EventFrame | str]) -> None:
        store = self._store
        if not self.isVisible() or self._dirty:
            # Nothing to repaint: read it all once the window is opened.
            self._dirty = True
            self.refresh_unread()
            return
        wallet = self.wallet
        changed_orders: dict[str, set[str]] = {}
        reviews = tier = analytics = all_orders = notices = False
        for item in batch:
            if isinstance(item, str):
                all_orders |= item == "orders"
                if item.startswith("order:"):
                    changed_orders.setdefault(wallet or "", set()).add(item[len("order:") :])
                reviews |= item == "reviews"
                tier |= item in ("tier", "profile")
                analytics |= item.startswith("analytics")
                notices |= item == "notifications"
                continue
            if wallet is not None and item.wallet != wallet:
                continue
            subject = subject_of(item)
            if subject is None:
                continue
            if subject.kind is Kind.ORDER:
                changed_orders.setdefault(item.wallet, set()).add(subject.key)
            reviews |= subject.kind is Kind.REVIEW
            tier |= subject.kind is Kind.TIER
            analytics |= subject.kind is Kind.ANALYTICS
        try:
            if all_orders:
                self.orders.set_orders(store.orders(wallet))
            else:
                for order_wallet, ids in changed_orders.items():
                    if order_wallet:
                        self.orders.upsert(store.orders_by_id(order_wallet, ids))
            if reviews:
                self._rating = store.rating_summary(wallet)
            if tier and wallet:
                self._tier = store.tier(wallet)
            if analytics and wallet:
                self._analytics = store.latest_analytics(wallet)
            if notices:
                self.activity.set_notices(store.notices(MAX_ROWS, wallet))
            else:
                newest = self.activity.newest_id
                self.activity.prepend(store.notices(MAX_ROWS, wallet, after_id=newest))
        except StoreError as exc:
            log.error("could not read the dashboard's data: %s", exc)
        if changed_orders or all_orders:
            self._refresh_statuses()
        self._figures_later.start()
        self.refresh_unread()

    def _tick(self) -> None:
        today = self._clock().date()
        if self._shown_day is not None and today != self._shown_day:
            self.orders.set_orders(self.orders.all_orders())  # "14:05" becomes "24 Nov 14:05"
        self._refresh_figures()

    # --- refreshing parts -------------------------------------------------------------

    def _refresh_figures(self) -> None:
        now = self._clock()
        self._shown_day = now.date()
        orders = self.orders.all_orders()
        metrics = compute_metrics(orders, self._rating, now=now)
        self.cards.show_metrics(
            metrics,
            tier=self._tier,
            analytics=self._analytics,
            main_currency=main_currency(orders, since=week_start(now)),
        )
        self.chart.show_orders(orders, now)

    def _refresh_statuses(self) -> None:
        present = self.orders.statuses()
        shown = [self.status_filter.itemData(i) for i in range(1, self.status_filter.count())]
        if shown == present:
            return
        current = self.status_filter.currentData()
        self.status_filter.blockSignals(True)
        self.status_filter.clear()
        self.status_filter.addItem(ALL_STATUSES, None)
        for status in present:
            self.status_filter.addItem(status_label(status), status)
        index = self.status_filter.findData(current) if current is not None else 0
        self.status_filter.setCurrentIndex(max(index, 0))
        self.status_filter.blockSignals(False)

    def _refresh_banner(self) -> None:
        status = self._status
        if status is not None and status.state is ConnectionState.CONNECTED:
            self.banner.hide()
            return
        since = self._stale_since
        if since is None and not self._was_connected:
            try:
                since = self._store.last_synced_at(self.wallet)
            except StoreError:
                since = None
        state = STATE_WORDS.get(status.state, "") if status is not None else "Not connected"
        self.banner.show_stale(since, f"{state}." if state else "")
        self.banner.setToolTip(status.reason if status is not None else "")

    def _count_orders(self, *_: object) -> None:
        shown, total = self.orders.rowCount(), len(self.orders.all_orders())
        text = f"Orders ({total:,})" if shown == total else f"Orders ({shown:,} of {total:,})"
        self.orders_title.setText(text)
        self.table.setAccessibleDescription(f"{text}. Press Enter or double-click to open an order")

    # --- reactions --------------------------------------------------------------------

    def _status_chosen(self, index: int) -> None:
        self.orders.set_status_filter(self.status_filter.itemData(index))

    def _search_changed(self, text: str) -> None:
        self.orders.set_search(text)

    def _focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def _open_row(self, index: QModelIndex) -> None:
        if index.isValid():
            order: Order = self.orders.order_at(index.row())
            self.open_order(order.wallet, order.order_id)

    def _activity_clicked(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        stored = self.activity.notice_at(index.row())
        if stored.read:
            return
        try:
            self._store.mark_read([stored.id])
        except StoreError as exc:
            log.error("could not mark a notice read: %s", exc)
            return
        self.activity.mark_read({stored.id})
        self.refresh_unread()

    def _activity_activated(self, index: QModelIndex) -> None:
        self._activity_clicked(index)
        if not index.isValid():
            return
        notice = self.activity.notice_at(index.row()).notice
        if notice.order_id and notice.wallet:
            self.open_order(notice.wallet, notice.order_id)

    # --- remembering the layout -------------------------------------------------------

    def _restore_state(self) -> None:
        self._restored = True
        if self._state_file is None or not self._state_file.exists():
            return
        settings = QSettings(str(self._state_file), QSettings.Format.IniFormat)
        restorers = (
            ("window/geometry", self.restoreGeometry),
            ("window/main_splitter", self.main.restoreState),
            ("window/side_splitter", self.side.restoreState),
            ("orders/header", self.table.horizontalHeader().restoreState),
        )
        for key, restore in restorers:
            value = settings.value(key)
            if isinstance(value, QByteArray | bytes) and not restore(QByteArray(value)):
                log.info("ignoring a saved dashboard layout (%s) that does not fit", key)
