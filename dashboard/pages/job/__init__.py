"""The office's Job page: one job in the help page's tabs."""
