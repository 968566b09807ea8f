# txradio in a container: the built-in demo station on port 8000.
#
#   docker build -t txradio . && docker run -p 8000:8000 txradio
#
# Arguments after the image name replace CMD, e.g.
#   docker run -p 8000:8000 -v ~/Music:/music:ro txradio --music-dir /music
# See docs/operations.md.

FROM python:3.11-slim

# ffmpeg re-encodes tracks of another format and serves other bitrates;
# build with --build-arg FFMPEG=no to leave it out (about 300 MB less).
ARG FFMPEG=yes
RUN if [ "$FFMPEG" = yes ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends ffmpeg \
        && rm -rf /var/lib/apt/lists/*; \
    fi

COPY . /tmp/txradio
# Rebuild Twisted's plugin cache while site-packages is writable: the
# unprivileged user below could not, and would warn at every start.
RUN python -m pip install --no-cache-dir /tmp/txradio \
    && rm -rf /tmp/txradio \
    && python -c "from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))"

RUN useradd --system --uid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin radio
USER radio
WORKDIR /tmp

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/status-json.xsl', timeout=4).status != 200)"]

# twistd stops cleanly on SIGTERM (docker stop).
ENTRYPOINT ["twistd", "--nodaemon", "--pidfile=", "txradio"]
CMD ["--listen", "tcp:8000"]
