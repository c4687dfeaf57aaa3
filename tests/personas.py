"""Personas for access-control tests: CSPs in each status and their API clients."""
