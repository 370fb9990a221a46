"""Seller Notifier: real-time marketplace notifications for sellers, in the tray."""

__version__ = "0.1.0"
