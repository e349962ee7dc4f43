"""The composition root: settings, the CLI, the private servers and the process runner.

Everything that wires adapters (storage, MQTT, HTTP, Dash) to the pure domain
(`jobs_domain`, `core`) lives here; nothing else builds connections.
"""
