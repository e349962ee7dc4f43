"""The price book: families, parts and services; add, edit, archive and restore."""
