"""The dispatcher's jobs map: technicians live, job sites, alerts, details."""
