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
# The DICOM store's files are 0640 and its folders 0750 (core/dicom_store.py): group 101, the nginx image's
# workers, owns /data/dicom, and its setgid bit hands that group to every file and folder made under it.
RUN useradd --create-home app && mkdir -p /data/dicom && chown app /data \
    && chown app:101 /data/dicom && chmod 2750 /data/dicom
USER app
EXPOSE 8000
