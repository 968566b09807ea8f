"""
Tests for txradio.

Hypothesis runs under a deterministic profile here: no deadline (the machines
that run CI are shared and their speed varies) and derandomized examples, so a
failure is reproducible and a green run stays green.
"""

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # pragma: no cover - hypothesis is a test extra
    pass
else:
    settings.register_profile(
        "txradio",
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.load_profile("txradio")

# Failed logins are slowed per address by one shared throttle; many tests log
# in wrongly from the same fake address on purpose, so the suite turns it off
# and the tests of the throttle patch in a fresh one (tests/test_attacks.py).
import txradio.net.throttle as _throttle  # noqa: E402

_throttle.LOGINS.freeFailures = 10**9
