"""PyInstaller entry script: run the ``seller-notifier`` console command.

The spec freezes this file rather than ``app/cli/__init__.py`` so that the
package is imported as ``app`` (with its ``__version__`` and relative
resources) exactly as the ``seller-notifier`` console script imports it.
"""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
