"""The API's HTTP building blocks, shared by every route module.

One module per job: :mod:`.registry` (routes + OpenAPI), :mod:`.context`
(app keys, request context, authentication), :mod:`.problems`
(problem+json), :mod:`.responses` (JSON), :mod:`.validation` (request
bodies), :mod:`.pagination`, :mod:`.identifiers` (path ids, ETags) and
:mod:`.idempotency`.
"""
