"""The demo company: ``crewtrack seed-demo`` (seed) and the living day (day).

``company`` is the company as data (pure), ``seed`` creates it through the
services layer, idempotently, and ``day`` has the technicians' phones live the
schedule through the real interfaces (MQTT and the HTTP API).
"""
