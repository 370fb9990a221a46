"""Configuration: paths (platformdirs), secrets, and the app's settings. No Qt."""
