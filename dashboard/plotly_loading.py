"""When a page runs plotly.js: once Dash has started (deferred), or among its scripts.

Our partial plotly.js bundle (``scripts/build-plotly.js``, 3 MB) is the longest
script of a first load. Run among the page's scripts, as Dash runs every file of
``dashboard/assets/``, it held Dash's first layout request back by ~0.5 s
(docs/performance.md, "Dashboard weight"). **Deferred**, the page only names
it in a ``<link rel="preload">`` (downloaded beside the other scripts) and it
runs when a page needs it:

- the jobs map: ``live-map.js`` adds it (from the preload link's URL) when the
  map's first callback is on its way, so the server's figure time overlaps
  plotly.js's evaluation, and draws once both are there;
- a ``dcc.Graph`` (job site, audit, clients, day board): dcc uses
  ``window.Plotly`` when the page has it, else loads plotly.js from the URL
  Dash's renderer sets in ``window._dashPlotlyJSURL`` - plotly.py's full
  4.8 MB ``plotly.min.js`` under :data:`DASH_PLOTLY_PATH` - which this app
  answers with our bundle. The preload link names that URL too, so the bundle
  is downloaded once whichever page needs it first.

Both rely on Dash internals (that URL and how dcc.Graph finds plotly.js), so
:func:`choose` reads the installed renderer and dcc at start and defers only
when both still behave as checked; otherwise, or with
``CREWTRACK_DASHBOARD_PLOTLY=in-page``, the bundle runs among the page's
scripts as before. The path taken is logged at start.

The dropdowns' code (``async-dropdown.js``, a chunk dcc loads when a page
first shows a dcc.Dropdown) is preloaded the same way: every callback that
reads a dropdown waits for it, the jobs map's figure among them.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import dash

from crewtrack.settings import SettingsError, env_name

log = logging.getLogger(__name__)

BUNDLE = "plotly-crewtrack.min.js"
#: Where Dash's renderer tells dcc.Graph to load plotly.js from (serve_locally).
DASH_PLOTLY_PATH = "_dash-component-suites/plotly/package_data/plotly.min.js"
#: The chunk dcc loads for its first dcc.Dropdown (dcc's webpack public path:
#: the folder of dcc's own script).
DROPDOWN_CHUNK_PATH = "_dash-component-suites/dash/dcc/async-dropdown.js"
#: The Dash release line these internals were read from.
CHECKED_DASH = (4, 4)
#: The preload link live-map.js reads the bundle's URL from.
LINK_ID = "plotly-bundle"

DEFERRED = "deferred"
IN_PAGE = "in-page"
MODES = ("auto", IN_PAGE)

_DASH_DIR = Path(dash.__file__).resolve().parent
RENDERER = _DASH_DIR / "dash-renderer" / "build" / "dash_renderer.min.js"
DCC = _DASH_DIR / "dcc" / "dash_core_components.js"
DROPDOWN_CHUNK = _DASH_DIR / "dcc" / "async-dropdown.js"
#: dcc.Graph: ``window.Plotly`` if the page has it, else a script from the URL.
_GRAPH_FINDS_PLOTLY = re.compile(
    r"window\.Plotly\|\|new Promise\(.{0,400}_dashPlotlyJSURL"
)


@dataclass(frozen=True)
class Loading:
    """The path taken, and why."""

    mode: str  # DEFERRED or IN_PAGE
    reason: str
    preload_dropdowns: bool


def _version(text: str) -> tuple[int, int]:
    major, minor = (int(p) for p in re.findall(r"\d+", text)[:2])
    return major, minor


def choose(
    setting: str,
    dash_version: str = dash.__version__,
    renderer: Path = RENDERER,
    dcc: Path = DCC,
    dropdown_chunk: Path = DROPDOWN_CHUNK,
) -> Loading:
    """Defer plotly.js when the setting allows and Dash still behaves as checked."""
    if setting not in MODES:
        raise SettingsError(
            f"{env_name('dashboard_plotly')}={setting!r} is not one of {MODES}"
        )
    dcc_code = dcc.read_text(errors="replace") if dcc.is_file() else ""
    preload = dropdown_chunk.is_file() and '"async-dropdown"' in dcc_code
    if setting == IN_PAGE:
        return Loading(IN_PAGE, f"{env_name('dashboard_plotly')}=in-page", preload)
    if _version(dash_version) != CHECKED_DASH:
        return Loading(
            IN_PAGE,
            f"dash {dash_version} is not the checked "
            f"{'.'.join(map(str, CHECKED_DASH))} series",
            preload,
        )
    code = renderer.read_text(errors="replace") if renderer.is_file() else ""
    if DASH_PLOTLY_PATH not in code:
        return Loading(
            IN_PAGE, f"Dash's renderer no longer loads {DASH_PLOTLY_PATH}", preload
        )
    if not _GRAPH_FINDS_PLOTLY.search(dcc_code):
        return Loading(
            IN_PAGE,
            "dcc.Graph no longer prefers window.Plotly over _dashPlotlyJSURL",
            preload,
        )
    return Loading(
        DEFERRED,
        f"dash {dash_version}: the renderer loads {DASH_PLOTLY_PATH}, "
        "dcc.Graph prefers window.Plotly",
        preload,
    )


def head_links(loading: Loading, prefix: str) -> str:
    """The ``<link rel="preload">`` tags the page's head carries. Deferred, the
    bundle's is dcc.Graph's own URL, which live-map.js loads too: one download
    whichever page needs plotly.js first."""
    links = []
    if loading.mode == DEFERRED:
        links.append(
            f'<link rel="preload" id="{LINK_ID}" href="{prefix}{DASH_PLOTLY_PATH}"'
            ' as="script">'
        )
    if loading.preload_dropdowns:
        links.append(
            f'<link rel="preload" href="{prefix}{DROPDOWN_CHUNK_PATH}" as="script">'
        )
    return "".join(links)


def index_string(default: str, links: str) -> str:
    """Dash's page template with ``links`` in its head, before the styles."""
    if not links:
        return default
    if "{%css%}" not in default:
        raise ValueError("Dash's index template has no {%css%} to put links before")
    return default.replace("{%css%}", links + "{%css%}", 1)


def log_choice(loading: Loading) -> None:
    log.info("plotly.js runs %s (%s)", loading.mode, loading.reason)
