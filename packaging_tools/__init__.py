"""Build scripts for Seller Notifier's installers (not part of the shipped app).

``python -m packaging_tools.build`` (``make package``) freezes the app with
PyInstaller and wraps the bundle in a .deb; ``python -m packaging_tools.measure``
reports sizes and start-up time.  The PyInstaller specs in ``packaging/`` import
:mod:`packaging_tools.prune` to decide which collected files go into a bundle.

The package lives at the repository root, outside ``app``: it is never
installed with the wheel and never frozen into the bundle.
"""
