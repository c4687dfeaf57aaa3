"""Factories for premises, meters and usage used across the test suite."""
