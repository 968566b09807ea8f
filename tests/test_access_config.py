"""
Tests for the access settings (L{txradio.config.access}) and how the
builder turns them into checks (L{txradio.wiring.accessPolicy}).
"""

from __future__ import annotations

import os

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txradio.config import ConfigError, parseConfig
from txradio.net.throttle import LoginThrottle
from txradio.wiring import accessPolicy

DEMO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "txradio", "demo")


def config(server: str = "", first: str = "", second: str = ""):
    return parseConfig(
        f'[server]\n{server}\n[[mount]]\npath = "/a"\nplaylist = "{DEMO}"\n{first}\n'
        f'[[mount]]\npath = "/b"\nplaylist = "{DEMO}"\n{second}\n'
    )


class AccessSettingsTests(SynchronousTestCase):
    """
    The settings, checked and merged.
    """

    def test_badNetwork(self) -> None:
        """
        A bad network is refused with its key.
        """
        error = self.assertRaises(ConfigError, config, 'deny_ip = ["10.0.0.0/40"]')
        self.assertIn("server.deny_ip", str(error))

    def test_badBan(self) -> None:
        """
        A bad regular expression is refused with its key.
        """
        error = self.assertRaises(ConfigError, config, "", 'deny_user_agents = ["re:("]')
        self.assertIn("mount[1].deny_user_agents", str(error))

    def test_missingHtpasswd(self) -> None:
        """
        An htpasswd file that does not exist is refused.
        """
        self.assertRaises(ConfigError, config, 'htpasswd = "/nonexistent/htpasswd"')

    def test_openByDefault(self) -> None:
        """
        Without settings, there is no policy at all.
        """
        self.assertIsNone(accessPolicy(config(), Clock(), None))

    def test_mountOverridesServer(self) -> None:
        """
        A mount's list replaces the server's; the server's applies to the
        others and to mounts added later.
        """
        policy = accessPolicy(
            config('deny_ip = ["10.0.0.0/8"]', 'deny_ip = []\ntoken_secret = "x"'), Clock(), LoginThrottle(Clock())
        )
        self.assertTrue(policy.forMount("/a").rules.permits("10.1.2.3"))
        self.assertEqual(policy.forMount("/a").tokenSecret, "x")
        self.assertFalse(policy.forMount("/b").rules.permits("10.1.2.3"))
        self.assertFalse(policy.forMount("/new").rules.permits("10.1.2.3"))
        self.assertIsNone(policy.forMount("/b").tokenSecret)

    def test_htpasswdReadAgain(self) -> None:
        """
        Each policy made (at start, at every reload) reads the htpasswd file.
        """
        path = os.path.abspath(self.mktemp())
        with open(path, "w") as f:
            f.write("a:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n")
        settings = config(f'htpasswd = "{path}"')
        self.assertEqual(list(accessPolicy(settings, Clock(), None).forMount("/a").passwords.users), ["a"])
        with open(path, "w") as f:
            f.write("b:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n")
        self.assertEqual(list(accessPolicy(settings, Clock(), None).forMount("/a").passwords.users), ["b"])
