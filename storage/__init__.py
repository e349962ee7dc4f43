"""Storage adapters: PostgreSQL/TimescaleDB repositories, Redis live state, SQL migrations.

Adapters import the domain (`jobs_domain`, `core`); the domain never imports them.
"""
