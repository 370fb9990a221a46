"""``python -m app`` is the ``seller-notifier`` command."""

import sys

from app.cli import main

sys.exit(main())
