"""Technicians & teams: the list by team; edit a technician's name, phone, team."""
