"""Use cases: the application's rules over a unit of work, one function a use case.

Called alike by the API, the ingest's event bridge, the dashboard and the CLI.
A use case takes a connection (the unit of work) and domain objects, applies
the pure rules of ``jobs_domain`` / ``core`` through the ``storage``
repositories, and returns domain objects - never HTTP responses or JSON.
"""
