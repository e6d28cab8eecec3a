"""Example tools and manifest used by ``aesp demo`` and the documentation."""
