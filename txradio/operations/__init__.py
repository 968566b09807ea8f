"""
Operations: access and playlist logs, Prometheus metrics, event hooks,
signals and the steady reactor clock; they may import L{txradio.wire},
L{txradio.interfaces} and L{txradio.stream}'s events.
"""
