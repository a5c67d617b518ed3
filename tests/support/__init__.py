"""Helpers shared by the test folders (import them from here, not from a conftest)."""
