"""Conformance kits: one per port, run against every adapter (STYLE convention 14).

An adapter's test module subclasses the kit and provides the ``port`` fixture, which yields a
fresh, empty adapter and cleans it up afterwards.
"""
