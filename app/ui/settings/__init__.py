"""Settings in the Qt face: ``store`` (the live settings and their change signal) and
``dialog`` (the Settings window). Import from the modules: the store is needed by
parts the dialog itself imports."""
