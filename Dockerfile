FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir . && rm -rf /root/.cache
COPY . .
RUN DEBUG=false SECRET_KEY=build-only ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput
RUN useradd --system --home /app portal && chown -R portal /app
# The record's checkpoint file (a volume in docker-compose.yml), outside /app.
RUN mkdir -p /var/lib/smt-record && chown portal /var/lib/smt-record
USER portal
EXPOSE 8000
CMD ["gunicorn", "smt_portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4"]
