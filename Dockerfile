# The viewer bundle is built with Node in its own stage; the Python image only carries the result.
FROM node:20-slim AS viewer
WORKDIR /build
COPY package.json package-lock.json vite.config.mjs ./
RUN npm ci --no-audit --no-fund
COPY static/viewer/src static/viewer/src
RUN npm run build

FROM python:3.11-slim
ARG WITH_WORKER_REQUIREMENTS=false
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt requirements-worker.txt ./
RUN pip install --no-cache-dir -r requirements.txt \
    && if [ "$WITH_WORKER_REQUIREMENTS" = "true" ]; then pip install --no-cache-dir -r requirements-worker.txt; fi
COPY . .
COPY --from=viewer /build/static/viewer/dist static/viewer/dist
RUN useradd --create-home app && mkdir -p /data && chown app /data
USER app
EXPOSE 8000
