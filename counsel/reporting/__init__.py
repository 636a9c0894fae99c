"""Anonymised statistics: counts in SQL, suppression, tables, charts and exports.

Nothing here imports counsel.crypto or counsel.vault, so a report cannot decrypt a field;
only coded plaintext columns are read (tests/test_layers.py and tests/reports hold this).
"""
