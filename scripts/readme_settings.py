"""Rewrite the README's configuration table from crewtrack/settings.py."""

from __future__ import annotations

import re
from pathlib import Path

from crewtrack.settings import settings_table

README = Path(__file__).parents[1] / "README.md"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"

text = README.read_text()
pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
README.write_text(pattern.sub(f"{START}\n{settings_table()}\n{END}", text))
