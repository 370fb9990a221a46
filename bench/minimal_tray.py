"""The baseline: a minimal PySide6 tray app (an icon, a menu with Quit), nothing else.

With SELLER_NOTIFIER_STARTUP_TRACE=1 it prints the same ``startup-trace`` line as
the real app when its icon is shown.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon


def main() -> int:
    app = QApplication(sys.argv)
    app.setQuitOnLastWindowClosed(False)
    pixmap = QPixmap(22, 22)
    pixmap.fill(QColor("#2e7d32"))
    tray = QSystemTrayIcon(QIcon(pixmap))
    menu = QMenu()
    menu.addAction("Quit", app.quit)
    tray.setContextMenu(menu)
    tray.show()
    if os.environ.get("SELLER_NOTIFIER_STARTUP_TRACE"):
        print(f"startup-trace tray-icon-shown {time.time():.6f}", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    wake = QTimer()  # lets Python run its signal handlers while Qt waits
    wake.start(500)
    wake.timeout.connect(lambda: None)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
