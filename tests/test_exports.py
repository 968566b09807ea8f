"""
The public names of the C{txradio} package.
"""

from __future__ import annotations

import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

import txradio


class ExportsTests(SynchronousTestCase):
    """
    C{txradio} re-exports its public API, and importing it is cheap.
    """

    def test_public(self) -> None:
        """
        The embedding API is importable from the package itself.
        """
        self.assertEqual(
            sorted(txradio.__all__),
            sorted(
                [
                    "__version__", "FolderTracks", "IBroadcaster", "IFrameSource", "IListener", "IStation",
                    "ListTracks", "LiveSource", "M3UTracks", "PlaylistSource", "PushClient", "RadioService",
                    "RelaySource", "Station", "StreamInfo", "TitleChange", "demoTracks",
                ]
            ),
        )
        for name in txradio.__all__:
            self.assertTrue(hasattr(txradio, name), name)

    def test_noReactorInstalled(self) -> None:
        """
        Importing txradio (and its twistd plugin's module) installs no
        reactor, so C{twistd --reactor=…} still chooses one.
        """
        code = (
            "import sys, txradio, txradio.tap; "
            "sys.exit(1 if 'twisted.internet.reactor' in sys.modules else 0)"
        )
        self.assertEqual(subprocess.call([sys.executable, "-c", code]), 0)
