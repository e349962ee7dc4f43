# One image for every crewtrack process; docker-compose.yml picks the command.
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
COPY storage storage
COPY services services
COPY derive derive
RUN pip install --no-cache-dir .
RUN useradd --system --home /app crewtrack && mkdir -p /data && chown crewtrack /data
USER crewtrack
ENTRYPOINT ["crewtrack"]
