"""The office's Jobs page: the list with its filters, paging and New Job."""
