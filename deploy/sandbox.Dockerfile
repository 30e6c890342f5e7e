# The sandbox image: Python, NumPy, torch and the harness; nothing of the grader.
# Built by `dlgrader sandbox build`, which prepares the context (build/).
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

# A virtual environment: the image's Python packages are ours alone (and Debian's
# system Python refuses pip).
RUN python3 -m venv /opt/venv
COPY build/ /tmp/build/
ARG TORCH_SPEC="torch==2.13.0"
ARG TORCH_INDEX_URL=""
# The proxy's CA (where there is one) is passed in build/ca.crt; it is not kept.
RUN set -eu; export PIP_CERT=/tmp/build/ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1; \
    /opt/venv/bin/pip install --no-cache-dir "numpy>=2,<3"; \
    if ls /tmp/build/*.whl >/dev/null 2>&1; then \
      /opt/venv/bin/pip install --no-cache-dir /tmp/build/*.whl; \
    elif [ -n "$TORCH_INDEX_URL" ]; then \
      /opt/venv/bin/pip install --no-cache-dir "$TORCH_SPEC" --index-url "$TORCH_INDEX_URL" \
        --extra-index-url https://pypi.org/simple; \
    else \
      /opt/venv/bin/pip install --no-cache-dir "$TORCH_SPEC"; \
    fi; \
    mkdir -p /opt/harness; cp -r /tmp/build/harness/. /opt/harness/; \
    chmod -R a+rX /opt/venv /opt/harness; rm -rf /tmp/build

ENV PATH=/opt/venv/bin:/usr/bin:/bin PYTHONDONTWRITEBYTECODE=1 HOME=/tmp
USER 65534:65534
WORKDIR /tmp
ARG HARNESS_DIGEST=""
LABEL org.dlgrader.role=sandbox org.dlgrader.harness=${HARNESS_DIGEST}
