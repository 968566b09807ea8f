# -*- test-case-name: tests.test_signals -*-
"""
The signals an operator sends a running radio: C{SIGHUP} reloads it,
C{SIGUSR1} reopens its log files (after logrotate moved them).

The handlers only schedule the work on the reactor: nothing runs inside the
signal handler itself.  They are installed by the C{twistd} plugin, not by
L{txradio.service.RadioService}, so a program that embeds a radio keeps its
signals to itself.
"""

from __future__ import annotations

import signal
from collections.abc import Callable

from twisted.application.service import Service
from twisted.logger import Logger

from txradio.interfaces import IProgramme


class SignalService(Service):
    """
    Installs the C{SIGHUP} and C{SIGUSR1} handlers while it runs, and puts
    back the previous ones when it stops.

    @ivar radio: the L{txradio.service.RadioService}.
    @ivar reloader: the L{txradio.reload.Reloader} of its configuration
        file, or L{None} when it runs from command-line options (C{SIGHUP}
        then re-reads the certificates and the playlists' folders).
    """

    _log = Logger()

    def __init__(self, radio, reloader=None, reactor=None) -> None:
        """
        @param radio: the radio.
        @param reloader: its L{txradio.reload.Reloader}, or L{None}.
        @param reactor: the reactor the work is scheduled on.
        """
        if reactor is None:
            from twisted.internet import reactor
        self.radio = radio
        self.reloader = reloader
        self._reactor = reactor
        self._previous: dict[int, object] = {}

    def startService(self) -> None:
        """
        Install the handlers.
        """
        Service.startService(self)
        self._install(signal.SIGHUP, self.reload)
        self._install(signal.SIGUSR1, self.reopenLogs)

    def stopService(self) -> None:
        """
        Put the previous handlers back.
        """
        Service.stopService(self)
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        self._previous.clear()

    def _install(self, number: int, work: Callable[[], object]) -> None:
        """
        Handle a signal by scheduling work on the reactor, then calling the
        handler that was there before (twistd's C{SIGUSR1} rotates its own
        log file).

        @param number: the signal.
        @param work: what to do.
        """
        previous = signal.getsignal(number)
        self._previous[number] = previous

        def handler(signum, frame):
            self._reactor.callFromThread(work)
            if callable(previous):
                previous(signum, frame)

        signal.signal(number, handler)

    def reload(self) -> None:
        """
        Reload the configuration file (or, without one, the certificates
        and playlists).
        """
        if self.reloader is None:
            self._log.info("SIGHUP: reading certificates and playlists again")
            self.radio.reloadCertificates()
            for station in self.radio.stations:
                if IProgramme.providedBy(station.programme):
                    station.programme.reload()
            return
        self._log.info("SIGHUP: reloading {path}", path=self.reloader.path)
        try:
            self.reloader.reload()
        except ValueError:
            # A configuration error (L{txradio.interfaces.IReloader.reload}):
            # logged by the reloader; the running configuration stays.
            pass

    def reopenLogs(self) -> None:
        """
        Reopen the radio's log files.
        """
        self._log.info("SIGUSR1: reopening the log files")
        self.radio.reopenLogs()
