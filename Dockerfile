FROM python:3.11-slim
ARG WITH_WORKER_REQUIREMENTS=false
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt requirements-worker.txt ./
RUN pip install --no-cache-dir -r requirements.txt \
    && if [ "$WITH_WORKER_REQUIREMENTS" = "true" ]; then pip install --no-cache-dir -r requirements-worker.txt; fi
COPY . .
RUN useradd --create-home app && mkdir -p /data && chown app /data
USER app
EXPOSE 8000
