# syntax=docker/dockerfile:1
# litesite on Fly.io: Django + gunicorn under LiteFS. `fly deploy` builds this image.

ARG PYTHON_VERSION=3.11

# LiteFS is copied from its official image, pinned to the last 0.5 release.
FROM flyio/litefs:0.5.14 AS litefs

# --- Build: dependencies and static files ----------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/venv/bin:$PATH
RUN python -m venv /venv
WORKDIR /app

# Runtime dependencies exactly as pyproject.toml lists them, in their own cached layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt

COPY . .
# Hashed, compressed static files for WhiteNoise, made once here rather than on every boot.
RUN SECRET_KEY=collectstatic-only DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    CACHE_DATABASE_URL=sqlite:////tmp/build-cache.sqlite3 \
    python manage.py collectstatic --noinput

# --- Run ---------------------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends fuse3 ca-certificates sqlite3 ffmpeg \
 && rm -rf /var/lib/apt/lists/*

COPY --from=litefs /usr/local/bin/litefs /usr/local/bin/litefs
COPY --from=build /venv /venv
COPY --from=build /app /app
COPY litefs.yml /etc/litefs.yml

ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PORT=8080
WORKDIR /app
EXPOSE 8080

# LiteFS mounts the database, waits to join the cluster, runs litefs.yml's `exec` commands
# (migrations, then gunicorn) and supervises the last one.
ENTRYPOINT ["litefs", "mount"]
