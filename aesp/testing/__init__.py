"""Test support shipped with aesp: a real Host on loopback, and fakes that implement the ports."""
