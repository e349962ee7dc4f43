"""Location history and arrival audit: a session's visit record, or a range."""
