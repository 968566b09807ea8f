"""
Integration tests for txradio: real peers over 127.0.0.1.

Unlike the unit tests in C{tests/}, these run the real reactor and real
programs: players and encoders (mpg123, ffmpeg), Icecast, nginx, Chromium,
systemd's tools, C{twistd} in a child process, wheels built and installed.
Each waits on events with a timeout and skips when a program it needs is
missing (CI installs them all: see C{.ci/run}).  Run them alone with
C{python3 -m twisted.trial integration}.

Speeds measured here (latencies, gaps, memory growth) are recorded as
figures by L{integration._figures.recordFigure}, not asserted, except where a
number is a correctness property with a generous margin (each such
assertion says why).
"""
