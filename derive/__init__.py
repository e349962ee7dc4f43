"""The derive worker: keeps every job session's visits up to date (``crewtrack derive``)."""
