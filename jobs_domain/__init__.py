"""The job model and its rules: pure Python, no I/O imports.

Adapters (storage, HTTP, MQTT) import this package; it imports none of them.
"""
