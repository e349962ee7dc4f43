# One image for every crewtrack process; docker-compose.yml picks the command.

# The dashboard's partial plotly.js bundle and the map's glyphs, built from the
# npm packages pinned in package-lock.json (as scripts/provision.sh does on a
# plain machine); install scripts never run, nothing is fetched at run time.
FROM node:20-bookworm-slim AS assets
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
COPY scripts/build-plotly.js scripts/build-glyphs.js scripts/
RUN mkdir -p dashboard/assets && node scripts/build-plotly.js && node scripts/build-glyphs.js

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-dejavu-core poppler-utils mosquitto-clients \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY crewtrack crewtrack
COPY jobs_domain jobs_domain
COPY core core
COPY ingest ingest
COPY api api
COPY dashboard dashboard
COPY --from=assets /build/dashboard/assets/ dashboard/assets/
COPY storage storage
COPY services services
COPY derive derive
COPY delivery delivery
RUN pip install --no-cache-dir .
RUN useradd --system --home /app crewtrack && mkdir -p /data && chown crewtrack /data
USER crewtrack
ENTRYPOINT ["crewtrack"]
