"""One decoder per device protocol: raw bytes in, fixes/events/rejections out.

Decoders check shape and types and convert units; range and time checks that
every protocol shares live in :mod:`ingest.validate`.
"""
