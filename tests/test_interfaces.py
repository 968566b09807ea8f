"""
Every class in txradio that declares an interface is checked with
C{verifyObject} in its own test module; this module keeps the list, and
fails naming any implementer that is not on it, so that a new one cannot be
forgotten.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from twisted.trial.unittest import SynchronousTestCase

import txradio

CHECKED = {
    "txradio.web.reports.CSVExport": "tests.test_audience_web",
    "txradio.dynamic.DynamicMounts": "tests.test_dynamic",
    "txradio.net.access.MountAccess": "tests.test_access",
    "txradio.net.listenerport.ListenerFactory": "tests.test_protocol",
    "txradio.net.push.PushProtocol": "tests.test_push",
    "txradio.net.throttle.LoginThrottle": "tests.test_attacks",
    "txradio.net.tls.SharedTLSEndpoint": "tests.test_tls",
    "txradio.web.browse.PlaylistProducer": "tests.test_library_cache",
    "txradio.net.yp.FormBody": "tests.test_yp",
    "txradio.reload.Reloader": "tests.test_reload",
    "txradio.sources.live.LiveSource": "tests.test_source",
    "txradio.sources.playlist.PlaylistSource": "tests.test_playlist",
    "txradio.sources.relay.RelaySource": "tests.test_relay",
    "txradio.sources.transcode.TranscodingSource": "tests.test_transcode",
    "txradio.stream.broadcast.Broadcaster": "tests.test_broadcast",
    "txradio.stream.listener.Listener": "tests.test_listener",
    "txradio.stream.segmenter.Segmenter": "tests.test_segmenter",
    "txradio.stream.station.Station": "tests.test_station",
    "txradio.stream.switcher.MountFollower": "tests.test_source",
    "txradio.stream.switcher.Switcher": "tests.test_source",
    "txradio.testing.FakeFrameSource": "tests.test_contracts",
    "txradio.testing.FakeProgramme": "tests.test_contracts",
    "txradio.web.events.EventClient": "tests.test_web_events",
    "txradio.web.site.RadioSite": "tests.test_web",
}
"""Each class declaring an interface, and the test module verifying it."""


def implementers() -> dict[str, type]:
    """
    Import every module of the package and find the classes that declare
    interfaces themselves (with C{@implementer} or C{classImplements}).

    @return: qualified name to class.
    """
    found: dict[str, type] = {}
    names = ["txradio"] + [
        info.name for info in pkgutil.walk_packages(txradio.__path__, "txradio.") if info.name != "txradio.__main__"
    ]
    for name in names:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if not inspect.isclass(value) or value.__module__ != name:
                continue
            declared = value.__dict__.get("__implemented__")
            if declared is not None and getattr(declared, "inherit", None) is value and declared.declared:
                found[f"{name}.{value.__qualname__}"] = value
    return found


class ImplementersTests(SynchronousTestCase):
    """
    The list of checked implementers is complete and true.
    """

    def test_everyImplementerChecked(self) -> None:
        """
        Every class in txradio that declares an interface is in L{CHECKED}.
        """
        missing = sorted(set(implementers()) - set(CHECKED))
        self.assertEqual(missing, [], "declare a test_interface with verifyObject and list it in CHECKED")

    def test_noStaleEntries(self) -> None:
        """
        Every class in L{CHECKED} still declares an interface.
        """
        self.assertEqual(sorted(set(CHECKED) - set(implementers())), [])

    def test_verifiedWhereListed(self) -> None:
        """
        Each listed test module calls C{verifyObject} and names the class.
        """
        for qualified, moduleName in CHECKED.items():
            source = inspect.getsource(importlib.import_module(moduleName))
            self.assertIn("verifyObject(", source, moduleName)
            self.assertIn(qualified.rsplit(".", 1)[1], source, f"{moduleName} does not name {qualified}")
