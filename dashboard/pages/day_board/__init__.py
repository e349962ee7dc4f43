"""The day board: one row per technician on a timeline, and a tray."""
