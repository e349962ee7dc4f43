"""Report templates: list, open, edit (families, fields, signatures), create."""
