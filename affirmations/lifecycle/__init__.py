"""The agreement lifecycle, one module per part of its life.

``affirmations.services`` is its public face; status changes go through
``affirmations.transitions``.
"""
