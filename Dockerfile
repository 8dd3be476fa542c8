# Let-Down Helper as a container: `letdown serve` (waitress) on port 8000, as a non-root user.
# Build: docker build -t letdown-helper .   Run with the proxy and PostgreSQL: see compose.yaml and the README.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LETDOWN_ENV=production \
    LETDOWN_DATABASE_URL=sqlite:////data/letdown.db

RUN groupadd --system --gid 10001 letdown \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin letdown \
    && mkdir /data && chown 10001:10001 /data

WORKDIR /app
# The package is installed in place (editable): the service reads audio/ and interaction_model/ beside skill/.
COPY pyproject.toml README.md ./
COPY skill ./skill
COPY interaction_model ./interaction_model
COPY audio ./audio
RUN pip install --no-cache-dir -e .

USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000

# Any HTTP answer from /healthz means the process serves; "degraded" (storage down) still answers guidance.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

CMD ["letdown", "serve", "--host", "0.0.0.0", "--port", "8000"]
