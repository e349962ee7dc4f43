#!/usr/bin/env bash
# Provision a Debian 12 machine for crewtrack: system packages, TimescaleDB, .venv,
# the dashboard's plotly.js bundle and the technician app (npm).
#
# Idempotent: every step checks whether its result already exists, so a second
# run takes seconds. Run by `make run` and `make test` (through the Makefile's
# stamp files) and safe to run by hand.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

PG_MAJOR=${CREWTRACK_PG_MAJOR:-15}
PYTHON=${PYTHON:-python3}
VENV=${VENV:-$here/.venv}
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

log() { printf '[provision] %s\n' "$*" >&2; }

# Debian packages the stack and the tests need. Each entry is a package name;
# `dpkg-query` tells which are missing so that apt runs only when needed.
APT_PACKAGES=(
  "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" postgresql-client
  redis-server mosquitto mosquitto-clients
  cmake build-essential dpkg-dev
  python3-venv python3-dev
  chromium chromium-driver
  poppler-utils fonts-dejavu-core
  libpq5 make git curl ca-certificates
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  case "$status" in
    *"install ok installed"*) ;;
    *) missing+=("$pkg") ;;
  esac
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # The postgresql package's maintainer script would create and start a
  # cluster on 5432; crewtrack runs its own clusters, so ask it not to.
  if [ ! -e /etc/postgresql-common/createcluster.conf ] || ! grep -q '^create_main_cluster' /etc/postgresql-common/createcluster.conf; then
    $SUDO mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" | $SUDO tee -a /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# TimescaleDB is not packaged for Debian 12: build Debian 13's source package
# (Apache edition) against PostgreSQL $PG_MAJOR, once.
ext_dir=$(/usr/lib/postgresql/$PG_MAJOR/bin/pg_config --sharedir)/extension
if [ ! -f "$ext_dir/timescaledb.control" ]; then
  log "building TimescaleDB from Debian's source package (about a minute)"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # The machine's own mirror, read from its apt configuration (not hard-coded).
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  if [ -z "$mirror" ]; then
    mirror=$(awk '$1=="deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  fi
  [ -n "$mirror" ] || { log "cannot find the Debian mirror in the apt configuration"; exit 1; }
  mkdir -p "$work/lists/partial"
  echo "deb-src $mirror trixie main" >"$work/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
            -o "Dir::State::Lists=$work/lists")
  apt-get "${apt_opts[@]}" update -qq
  (cd "$work" && apt-get "${apt_opts[@]}" source --download-only timescaledb >/dev/null)
  dsc=$(ls "$work"/timescaledb_*.dsc | head -1)
  dpkg-source -x --no-check "$dsc" "$work/src" >/dev/null
  cmake -S "$work/src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
    -DPG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config -DAPACHE_ONLY=ON \
    -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
    -DUSE_TELEMETRY=OFF -DSEND_TELEMETRY_DEFAULT=OFF >/dev/null
  $SUDO make -C "$work/build" -j"$(nproc)" install >/dev/null
  log "TimescaleDB installed: $(ls "$ext_dir"/timescaledb--*.sql | tail -1)"
fi

# The project's virtual environment with the dev extra. Reinstalled only when
# pyproject.toml changed since the last install (stamp inside .venv).
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
stamp="$VENV/.crewtrack-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  log "installing crewtrack and its dev extra into $VENV"
  "$VENV/bin/pip" install -q -e ".[dev]"
  touch "$stamp"
fi
# The dashboard's partial plotly.js bundle (only the trace types its pages draw)
# and the map's text glyphs, built from the npm packages pinned in package-lock.json. Dependencies are
# reinstalled only when the lock file changed, the bundle rebuilt only when the
# lock file or the build script changed; install scripts never run.
if ! command -v npm >/dev/null 2>&1; then
  log "installing Debian packages: nodejs npm"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing the dashboard's npm build dependencies (package-lock.json)"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi
bundle=dashboard/assets/plotly-crewtrack.min.js
if [ ! -f "$bundle" ] || [ package-lock.json -nt "$bundle" ] || [ package.json -nt "$bundle" ] \
   || [ scripts/build-plotly.js -nt "$bundle" ]; then
  log "building $bundle"
  node scripts/build-plotly.js
fi
glyphs="dashboard/assets/glyphs/DejaVu Sans Bold/0-255.pbf"
if [ ! -f "$glyphs" ] || [ package-lock.json -nt "$glyphs" ] || [ scripts/build-glyphs.js -nt "$glyphs" ]; then
  log "building the map's glyphs (dashboard/assets/glyphs)"
  node scripts/build-glyphs.js
fi
# The technician app (techapp/ -> techapp/dist, served by the API at /app/),
# rebuilt when its sources, its build config or the lock file changed.
app_stamp=techapp/dist/index.html
if [ ! -f "$app_stamp" ] || [ package-lock.json -nt "$app_stamp" ] \
   || [ -n "$(find techapp -path techapp/dist -prune -o -type f -newer "$app_stamp" -print -quit)" ]; then
  log "building the technician app (techapp/dist)"
  npm run -s techapp:build
fi
log "ready"
