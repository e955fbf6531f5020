# Stage 1 builds the wheel; stage 2 installs exactly that wheel, as scripts/test's wheel smoke test does
# (tests/test_packaging.py checks this file against pyproject.toml).
FROM python:3.11-slim AS build

ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY services ./services
COPY search ./search
COPY storage ./storage
RUN pip wheel --no-deps --wheel-dir /dist .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# OpenCV (under the OCR engine) links libGL and GLib, which the slim image lacks.
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /dist/ /dist/
RUN pip install /dist/jiaoyun-*.whl && rm -rf /dist \
    && useradd --system --home /app jiaoyun && mkdir -p /data && chown jiaoyun /data
USER jiaoyun
ENV JIAOYUN_DATA_DIR=/data
EXPOSE 8000
CMD ["jiaoyun", "serve", "--host", "0.0.0.0", "--port", "8000"]
