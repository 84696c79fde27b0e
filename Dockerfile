# soraweb production image: gunicorn serving Django; the same image runs the worker, beat and sorasim.
FROM python:3.13-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SORAWEB_VAR_DIR=/app/var

WORKDIR /app
RUN groupadd --system soraweb && useradd --system --gid soraweb --home /app soraweb

COPY pyproject.toml README.md ./
COPY soraweb ./soraweb
COPY projects ./projects
COPY providers ./providers
COPY renders ./renders
COPY quotas ./quotas
COPY staff ./staff
COPY sorasim ./sorasim
RUN pip install .

COPY . .
# collectstatic needs settings that import cleanly; these build-time values are never used at run time
RUN SECRET_KEY=collectstatic-only FIELD_ENCRYPTION_KEYS=Y29sbGVjdHN0YXRpYy1vbmx5LWtleS0zMmJ5dGVzISE= \
    python manage.py collectstatic --noinput -v 0 \
 && mkdir -p /app/var && chown -R soraweb:soraweb /app/var

USER soraweb
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)" || exit 1
CMD ["gunicorn", "soraweb.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--access-logfile", "-"]
