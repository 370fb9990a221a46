"""The metric cards across the top of the dashboard."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Final

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from app.domain.folding import AnalyticsSnapshot, Tier
from app.domain.metrics import Metrics
from app.domain.notices import format_amount

CARD_STYLE: Final = """
QFrame#metricCard {
    background: palette(base);
    border: 1px solid palette(midlight);
    border-radius: 8px;
}
QLabel#metricTitle { color: palette(placeholder-text); font-weight: 600; }
QLabel#metricValue { font-size: 15pt; font-weight: 600; }
QLabel#metricDetail { color: palette(placeholder-text); }
"""
"""Palette references only: the cards follow the system's light or dark colours."""


MIN_CARD_WIDTH: Final = 104


class MetricCard(QFrame):
    """A title, a big value and a line or two of detail; screen readers hear all three."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("metricCard")
        self.setAccessibleName(title)
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.title = QLabel(title, self)
        self.title.setObjectName("metricTitle")
        self.value = QLabel("—", self)
        self.value.setObjectName("metricValue")
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail = QLabel("", self)
        self.detail.setObjectName("metricDetail")
        self.detail.setWordWrap(True)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        for label, role in ((self.title, "title"), (self.value, "value"), (self.detail, "detail")):
            label.setAccessibleName(f"{title} {role}")
            # On a narrow screen a card may clip its text rather than widen the window.
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(MIN_CARD_WIDTH)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.value)
        layout.addWidget(self.detail, 1)

    def show_value(self, value: str, detail: str = "", tooltip: str = "") -> None:
        self.value.setText(value)
        self.detail.setText(detail)
        self.setToolTip(tooltip or detail)
        spoken = f"{value}. {detail}".strip().rstrip(".")
        self.setAccessibleDescription(spoken)
        self.value.setAccessibleDescription(value)
        self.detail.setAccessibleDescription(detail)


def _revenue(amounts: Mapping[str, Decimal], first: str | None) -> tuple[str, str]:
    if not amounts:
        return "—", "No sales"
    ordered = sorted(amounts, key=lambda currency: (currency != first, currency))
    head, *rest = (format_amount(amounts[c], c) for c in ordered)
    return head, " · ".join(rest)


class MetricsPanel(QWidget):
    """Revenue today, revenue over 7 days, orders today, waiting to ship, rating, tier."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Key figures")
        self.setStyleSheet(CARD_STYLE)
        self.revenue_today = MetricCard("Revenue today", self)
        self.revenue_week = MetricCard("Revenue, last 7 days", self)
        self.orders_today = MetricCard("Orders today", self)
        self.waiting = MetricCard("Waiting to ship", self)
        self.rating = MetricCard("Average rating", self)
        self.tier = MetricCard("Tier", self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        # Money needs more room than a count.
        for card, stretch in zip(self.cards, (5, 5, 4, 3, 3, 4), strict=True):
            layout.addWidget(card, stretch)

    @property
    def cards(self) -> tuple[MetricCard, ...]:
        return (
            self.revenue_today,
            self.revenue_week,
            self.orders_today,
            self.waiting,
            self.rating,
            self.tier,
        )

    def show_metrics(
        self,
        metrics: Metrics,
        *,
        tier: Tier | None = None,
        analytics: AnalyticsSnapshot | None = None,
        main_currency: str | None = None,
    ) -> None:
        """Fill the cards; ``main_currency`` is listed first in the revenue cards."""
        value, detail = _revenue(metrics.revenue_today, main_currency)
        self.revenue_today.show_value(value, detail)
        value, detail = _revenue(metrics.revenue_week, main_currency)
        self.revenue_week.show_value(value, detail)

        parts = [f"{metrics.orders_week:,} in the last 7 days"]
        if analytics is not None:
            parts.append(f"{analytics.views:,} views")
            if analytics.conversion_rate is not None:
                parts.append(f"{analytics.conversion_rate * 100:.1f} % conversion")
        self.orders_today.show_value(f"{metrics.orders_today:,}", " · ".join(parts))

        waiting = metrics.waiting_to_ship
        self.waiting.show_value(
            f"{waiting:,}", "Paid, not shipped yet" if waiting else "Nothing to send"
        )

        rating = metrics.rating
        average = rating.average
        if average is None:
            self.rating.show_value("—", "No reviews yet")
        else:
            reviews = f"from {rating.count:,} review{'s' if rating.count != 1 else ''}"
            self.rating.show_value(f"{average:.2f} ★", reviews)

        if tier is None:
            self.tier.show_value("—", "No tier yet")
        else:
            benefits = "\n".join(tier.benefits) if tier.benefits else "No extra benefits"
            shown = " · ".join(tier.benefits[:2]) + (" …" if len(tier.benefits) > 2 else "")
            self.tier.show_value(tier.name, shown or benefits, tooltip=benefits)
