"""``python -m dashboard``: serve the dashboard with settings from the environment."""

from __future__ import annotations

from crewtrack.settings import Settings
from dashboard.app import run

if __name__ == "__main__":
    run(Settings.from_env())
