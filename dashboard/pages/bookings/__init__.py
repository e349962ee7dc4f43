"""Bookings to confirm: the online bookings whose job is Pending, and a phone booking."""
