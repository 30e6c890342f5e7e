# The service image: the API, the Celery workers and the reaper (one image, three commands).
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 DLGRADER_DATA_DIR=/var/lib/dlgrader/data
WORKDIR /opt/dlgrader
COPY pyproject.toml README.md ./
COPY reference_impl reference_impl
COPY grader grader
COPY workers workers
COPY submissions_schema submissions_schema
COPY deploy deploy
RUN pip install --no-cache-dir ".[service]"
# The API runs unprivileged; workers and the reaper ask for root in docker-compose.yml.
RUN useradd --system --uid 10001 --home-dir /var/lib/dlgrader dlgrader \
    && mkdir -p /var/lib/dlgrader/data && chown -R dlgrader: /var/lib/dlgrader
USER dlgrader
EXPOSE 8000
CMD ["dlgrader", "serve", "--host", "0.0.0.0", "--port", "8000"]
