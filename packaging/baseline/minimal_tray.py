"""The smallest useful PySide6 tray app: the yardstick for bundle size and start-up.

`packaging_tools.measure` compares Seller Notifier's bundle with this one, frozen
by the same rules (packaging/baseline/minimal-tray.spec), so the figures show what
the app adds on top of Qt itself.  It prints ``tray icon shown`` once the icon is
shown (``no system tray`` where the desktop has none) and runs until SIGTERM or
SIGINT, then exits 0.
"""

import signal
import sys

from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon


def main() -> int:
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    pixmap = QPixmap(32, 32)
    pixmap.fill(QColor("#2563eb"))
    tray = QSystemTrayIcon(QIcon(pixmap))
    menu = QMenu()
    menu.addAction("Quit", app.quit)
    tray.setContextMenu(menu)

    def stop(signum: int, frame: object) -> None:
        # Queued: quit() before exec() has started would be lost (Qt 6 ignores it).
        QTimer.singleShot(0, app.quit)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # Python runs signal handlers only when it gets control; a timer gives it some.
    wake = QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(100)
    tray.show()
    if QSystemTrayIcon.isSystemTrayAvailable():
        print("tray icon shown", flush=True)
    else:
        print("no system tray", flush=True)
    code = app.exec()
    tray.hide()
    return code


if __name__ == "__main__":
    sys.exit(main())
