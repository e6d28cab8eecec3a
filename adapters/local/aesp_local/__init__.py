"""aesp-local: the embedded profile; every port on SQLite files."""
