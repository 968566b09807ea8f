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
