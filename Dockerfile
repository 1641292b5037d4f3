# syntax=docker/dockerfile:1
# Build stage: compile wheels for eta and its dependencies.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY eta ./eta
RUN pip wheel --wheel-dir /wheels .

# Runtime stage: only the wheels, the bundled data and a non-root user.
FROM python:3.11-slim-bookworm AS runtime
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    ETA_DATA_DIR=/var/lib/eta \
    ETA_REFERENCE_DIR=/opt/eta/data
RUN groupadd --system --gid 10001 eta \
    && useradd --system --uid 10001 --gid eta --home-dir /var/lib/eta --create-home eta
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links=/wheels "eta==0.1.0" && rm -rf /wheels
COPY data /opt/eta/data
USER 10001:10001
WORKDIR /var/lib/eta
VOLUME ["/var/lib/eta"]
EXPOSE 8000
# the start period covers `eta demo`, whose servers answer after a minute or two (`eta serve`: seconds)
HEALTHCHECK --interval=30s --timeout=3s --start-period=180s CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/livez').status == 200 else 1)"]
ENTRYPOINT ["eta"]
# All of the container's interfaces: publish the port only to a reverse proxy in front (TLS, X-Forwarded-For),
# e.g. -p 127.0.0.1:8000:8000, and see docs/security.md
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
