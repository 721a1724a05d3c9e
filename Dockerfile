# syntax=docker/dockerfile:1
# The production image: gunicorn web and Celery workers (see docker-compose.yml).

# --- build: wheels for every requirement -------------------------------------------
# pdqhash publishes no Linux wheel, so it is compiled here; the runtime image
# carries no compiler.
FROM python:3.11-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt /wheels/requirements.txt
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r /wheels/requirements.txt

# --- runtime ---------------------------------------------------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    DEBUG=false \
    MEDIA_ROOT=/data/media \
    RECEIPT_KEY_DIR=/data/keys \
    WORK_ROOT=/data/work \
    SEGMENT_CACHE_DIR=/data/segment-cache \
    SEARCH_INDEX_DIR=/data/search

RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels -r /wheels/requirements.txt

WORKDIR /app
COPY . /app

# Static files are collected into the image (whitenoise serves them). The key is
# a placeholder for this one command; without a real SECRET_KEY at run time the
# settings refuse to start.
RUN DEBUG=false \
    SECRET_KEY=collectstatic-only-not-a-secret \
    CELERY_BROKER_URL=redis://unused:6379/0 \
    python manage.py collectstatic --noinput

# The code stays root-owned and read-only to the app; only media, the
# receipt-signing key's folder and the scratch folders (job work files, this
# container's cache of index segments) are writable. Docker copies each
# folder's owner and mode into a new named volume mounted there.
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home app \
    && mkdir -p /data/media /data/keys /data/uploads /data/work /data/segment-cache /data/search \
    && chown app:app /data/media /data/keys /data/uploads /data/work /data/segment-cache /data/search \
    && chmod 700 /data/keys /data/uploads /data/work
# Large uploads stream to temporary files here (swept when a killed request
# leaves them); the code folder is read-only to the app.
ENV FILE_UPLOAD_TEMP_DIR=/data/uploads
USER app

EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000"]
