"""The Settings… window. For now it says where the settings live; editing comes later."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from app.ui.icons import svg_icon


class SettingsDialog(QDialog):
    """Shows the settings file's path and how to try the app with ``--demo``."""

    def __init__(self, settings_file: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Seller Notifier — settings")
        self.setWindowIcon(svg_icon("seller-notifier"))
        self.text = QLabel(
            "Editing settings here is coming in a later version.\n\n"
            f"Settings file:\n{settings_file}\n\n"
            "To try Seller Notifier without an account, run: seller-notifier --demo",
            self,
        )
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(460, 200)
