"""Anonymised statistics for supervisors: the report page, the printable funder report, exports."""
