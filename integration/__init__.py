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

# Failed logins are slowed per address by one shared throttle; some tests
# log in wrongly from 127.0.0.1 on purpose, so the suite turns it off (as
# tests/__init__.py does for the unit tests) and the tests of the throttle
# patch in a fresh one (integration/test_attacks.py).
import txradio.net.throttle as _throttle

_throttle.LOGINS.freeFailures = 10**9
