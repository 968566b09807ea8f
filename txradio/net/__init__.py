"""
Network protocols: the listener port's front door, the Icecast and
SHOUTcast source ports, pushes to other servers, TLS, the failed-login
throttle and endpoint helpers; they may import L{txradio.wire},
L{txradio.interfaces}, L{txradio.stream} and L{txradio.sources}.
"""
