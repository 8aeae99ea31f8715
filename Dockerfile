# One image for all four services: `doorstep run <service>` picks the service (see deploy/k8s).
# Build: docker build -t doorstep:0.1.0 .
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
RUN python -m venv /opt/doorstep && /opt/doorstep/bin/pip install --no-cache-dir --upgrade "pip==25.3"
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY doorstep ./doorstep
RUN /opt/doorstep/bin/pip install --no-cache-dir .

FROM python:3.11-slim-bookworm
# Non-root, and nothing writable but the volumes Kubernetes mounts (read-only root filesystem).
RUN groupadd --gid 10001 doorstep && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin doorstep
COPY --from=build /opt/doorstep /opt/doorstep
ENV PATH=/opt/doorstep/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DOORSTEP_HTTP_HOST=0.0.0.0 \
    DOORSTEP_HTTP_PORT=8080 \
    DOORSTEP_DATA_DIR=/var/lib/doorstep
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["doorstep"]
CMD ["run", "--help"]
