"""The live revenue chart: cumulative revenue over the last 24 hours, in one currency."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

from PySide6.QtCharts import QAreaSeries, QChart, QChartView, QDateTimeAxis, QLineSeries, QValueAxis
from PySide6.QtCore import QDateTime, QMargins, QPointF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.domain.folding import Order
from app.domain.metrics import REVENUE_EXCLUDED, main_currency, revenue_timeline
from app.domain.notices import format_amount

WINDOW: Final = timedelta(hours=24)
MIN_SPAN: Final = timedelta(minutes=10)
"""A young shop's first minutes still get a readable time axis."""
MAX_POINTS: Final = 1500
"""More points than pixels only cost time; the line is thinned beyond this."""
LINE_COLOUR: Final = "#2f7bf5"


def _msecs(moment: datetime) -> float:
    return moment.timestamp() * 1000.0


def step_points(
    timeline: Sequence[tuple[datetime, Decimal]], start: datetime, end: datetime
) -> list[tuple[float, float]]:
    """A staircase through a cumulative timeline: flat from ``start``, a step up at
    each sale, flat again to ``end``.

    Thinned to at most about :data:`MAX_POINTS` points (the last point is always kept).
    """
    if len(timeline) > MAX_POINTS // 2:
        step = len(timeline) / (MAX_POINTS // 2)
        picked = [timeline[int(i * step)] for i in range(MAX_POINTS // 2)]
        timeline = [*picked, timeline[-1]] if picked[-1] != timeline[-1] else picked
    points = [(_msecs(start), 0.0)]
    previous = 0.0
    for moment, total in timeline:
        x = _msecs(moment)
        points.append((x, previous))
        previous = float(total)
        points.append((x, previous))
    points.append((_msecs(end), previous))
    return points


class RevenueChart(QWidget):
    """A currency picker and an area chart; :meth:`show_orders` redraws it.

    ``currency_chosen(str)``: the seller picked another currency (redraw with it).
    """

    currency_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Revenue chart")
        self._currency: str | None = None
        self._chosen_by_user = False
        self.total = ""

        self.heading = QLabel("Revenue, last 24 hours", self)
        self.heading.setObjectName("sectionTitle")
        self.heading.setAccessibleName("Revenue chart title")
        self.currency = QComboBox(self)
        self.currency.setAccessibleName("Chart currency")
        self.currency.setToolTip("The currency the chart shows (currencies are never added up)")
        self.currency.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.currency.view().setAccessibleName("Currencies")
        self.currency.activated.connect(self._currency_chosen)

        self.line = QLineSeries()
        self.line.setName("Revenue")
        self.area = QAreaSeries(self.line)
        self.area.setName("Revenue")
        self.x_axis = QDateTimeAxis()
        self.x_axis.setFormat("HH:mm")
        self.x_axis.setTickCount(7)
        self.y_axis = QValueAxis()
        self.y_axis.setLabelFormat("%.0f")
        self.y_axis.setMin(0)
        self.chart = QChart()
        self.chart.addSeries(self.area)
        self.chart.addAxis(self.x_axis, Qt.AlignmentFlag.AlignBottom)
        self.chart.addAxis(self.y_axis, Qt.AlignmentFlag.AlignLeft)
        self.area.attachAxis(self.x_axis)
        self.area.attachAxis(self.y_axis)
        self.chart.legend().hide()
        self.chart.setMargins(QMargins(4, 4, 4, 4))
        # Redrawing a moving chart with animations would keep the loop busy for nothing.
        self.chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        self.view = QChartView(self.chart, self)
        self.view.setAccessibleName("Cumulative revenue over the last 24 hours")
        self.view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.view.setMinimumHeight(180)
        self.view.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        header = QHBoxLayout()
        header.addWidget(self.heading)
        header.addStretch(1)
        header.addWidget(self.currency)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)
        self.apply_palette()

    @property
    def shown_currency(self) -> str | None:
        return self._currency

    def point_count(self) -> int:
        return self.line.count()

    def show_orders(self, orders: Sequence[Order], now: datetime) -> None:
        """Redraw for ``orders`` as of ``now`` (an aware datetime)."""
        since = now - WINDOW
        self._offer_currencies(orders, since)
        currency = self._currency
        timeline = revenue_timeline(orders, currency, since=since) if currency else []
        start = timeline[0][0] if timeline else since
        start = min(start, now - MIN_SPAN)
        points = step_points(timeline, start, now)
        self.line.replace([QPointF(x, y) for x, y in points])
        self.x_axis.setRange(
            QDateTime.fromMSecsSinceEpoch(int(_msecs(start))),
            QDateTime.fromMSecsSinceEpoch(int(_msecs(now))),
        )
        top = float(timeline[-1][1]) if timeline else 0.0
        self.y_axis.setRange(0, _nice_ceiling(top))
        self.y_axis.setLabelFormat("%.4f" if 0 < top < 1 else "%.0f" if top >= 100 else "%.2f")
        self.total = format_amount(timeline[-1][1], currency) if timeline and currency else ""
        what = f"in {currency}" if currency else "(no sales yet)"
        self.heading.setText(f"Revenue, last 24 hours {what}")
        spoken = f"{self.total} over the last 24 hours" if self.total else "No sales in 24 hours"
        self.view.setAccessibleDescription(spoken)
        self.view.setToolTip(spoken)

    def apply_palette(self, palette: QPalette | None = None) -> None:
        """Colours from ``palette`` (default: the widget's): call again when the system
        switches between light and dark."""
        palette = palette if palette is not None else self.palette()
        text = palette.color(QPalette.ColorRole.Text)
        grid = palette.color(QPalette.ColorRole.Mid)
        grid.setAlpha(90)
        self.chart.setBackgroundVisible(False)
        self.chart.setPlotAreaBackgroundVisible(False)
        for axis in (self.x_axis, self.y_axis):
            axis.setLabelsColor(text)
            axis.setLinePenColor(grid)
            axis.setGridLineColor(grid)
        self.chart.setTitleBrush(QBrush(text))
        colour = QColor(LINE_COLOUR)
        self.area.setPen(QPen(colour, 2))
        fill = QColor(colour)
        fill.setAlpha(60)
        self.area.setBrush(QBrush(fill))

    def _offer_currencies(self, orders: Sequence[Order], since: datetime) -> None:
        seen = sorted(
            {
                o.placement.currency
                for o in orders
                if o.placement is not None
                and o.placed_at >= since
                and o.status not in REVENUE_EXCLUDED
            }
        )
        if not self._chosen_by_user or self._currency not in seen:
            self._currency = main_currency(orders, since=since) if seen else None
            self._chosen_by_user = False
        current = [self.currency.itemText(i) for i in range(self.currency.count())]
        if current != seen:
            self.currency.blockSignals(True)
            self.currency.clear()
            self.currency.addItems(seen)
            self.currency.blockSignals(False)
        if self._currency is not None:
            self.currency.setCurrentText(self._currency)
        self.currency.setEnabled(len(seen) > 1)

    def _currency_chosen(self, index: int) -> None:
        self._currency = self.currency.itemText(index)
        self._chosen_by_user = True
        self.currency_chosen.emit(self._currency)


def _nice_ceiling(value: float) -> float:
    """A round axis maximum a little above ``value`` (1, 2, 2.5, 5 × a power of ten)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1) if value >= 1 else 10 ** -_decimals(value)
    for factor in (1, 2, 2.5, 5, 10):
        if value * 1.1 <= factor * magnitude:
            return float(factor * magnitude)
    return float(10 * magnitude)


def _decimals(value: float) -> int:
    places = 0
    while value < 1 and places < 12:
        value *= 10
        places += 1
    return places
