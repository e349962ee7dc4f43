"""``python -m ingest``: run one ingest replica from ``CREWTRACK_*`` settings."""

from ingest.service import main

main()
