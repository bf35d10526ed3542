# syntax=docker/dockerfile:1
# The io-relay image. From the repository root:
#   docker build -t io-relay .
#   docker run --rm -p 9400:9400 -e IO_KEY_TARI=... \
#     -v "$PWD/config.yaml:/etc/io-relay/config.yaml:ro" -v "$PWD/rules:/etc/io-relay/rules:ro" \
#     io-relay
# Configuration: the mounted /etc/io-relay/config.yaml (with `rules: [/etc/io-relay/rules]`),
# overridden by IO_RELAY_<SECTION>__<KEY> variables; subscription keys by their key_env variables.

# Build stage: the dependencies exactly as requirements.lock pins them (hashes checked), then
# a wheel of the project on top without resolving again, in a virtualenv at /opt/venv. Every
# dependency ships manylinux wheels (confluent-kafka bundles librdkafka), so no compiler is
# needed; the stage only keeps pip, its cache and the sources out of the image.
FROM python:3.12-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY requirements.lock ./
RUN /opt/venv/bin/pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY consumer/ consumer/
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /tmp/wheels . \
    && /opt/venv/bin/pip install --no-deps /tmp/wheels/io_relay-*.whl \
    && /opt/venv/bin/pip check \
    && /opt/venv/bin/io-relay --help > /dev/null

# Runtime stage: the same Python with the virtualenv and the examples (for the sandbox and
# docker compose), run by an unprivileged user. Nothing here is writable by that user.
FROM python:3.12-slim AS runtime
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PATH=/opt/venv/bin:$PATH
RUN groupadd --system --gid 10001 io-relay \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin io-relay
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY examples/ /app/examples/
USER 10001:10001
# /metrics, /healthz and /readyz (observability.port).
EXPOSE 9400
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9400/healthz', timeout=4)"]
ENTRYPOINT ["io-relay"]
CMD ["run", "--config", "/etc/io-relay/config.yaml"]
