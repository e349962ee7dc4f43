"""Clients & properties: the list, a clients profile, a propertys fence."""
