FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# OpenCV (under the OCR engine) links libGL and GLib, which the slim image lacks.
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY services ./services
COPY search ./search
COPY storage ./storage
RUN pip install . && useradd --system --home /app jiaoyun && mkdir -p /data && chown jiaoyun /data
USER jiaoyun
ENV JIAOYUN_DATA_DIR=/data
EXPOSE 8000
CMD ["jiaoyun", "serve", "--host", "0.0.0.0", "--port", "8000"]
