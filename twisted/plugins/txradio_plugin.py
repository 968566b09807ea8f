"""
The C{twistd txradio} plugin.

This file names the module that builds the service and nothing else: it is
imported whenever Twisted scans for plugins, so it must stay cheap and must
not import the reactor.
"""

from twisted.application.service import ServiceMaker

txradio = ServiceMaker(
    "txradio",
    "txradio.tap",
    "An internet radio station streaming MP3 over ICY/HTTP.",
    "txradio",
)
