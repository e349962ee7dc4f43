"""Users & devices: the admin's page (users, roles, phones and their set-up)."""
