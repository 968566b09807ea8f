"""
The web face, as twisted.web resources only: the station page, status JSON
and API, admin, the library's pages, HLS and the metrics page; it may import
L{txradio.wire}, L{txradio.interfaces}, L{txradio.stream},
L{txradio.library} and L{txradio.operations}.
"""
