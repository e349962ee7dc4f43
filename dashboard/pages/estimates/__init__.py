"""Estimates: the list, New Estimate, an estimate with Approve and Convert to Job."""
