"""Local servers that speak the protocols of services outside our control."""
