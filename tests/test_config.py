"""
Tests for L{txradio.config}: the TOML configuration file.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import sys

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from txradio.config import (
    MAX_BURST,
    MAX_FILE_SIZE,
    MIN_LAG_LIMIT,
    ConfigError,
    HLSConfig,
    HookConfig,
    MountConfig,
    PushConfig,
    RadioConfig,
    ServerConfig,
    loadConfig,
    parseConfig,
)
from txradio.wire.icy import MAX_METAINT

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")
EXAMPLE = os.path.join(DOCS, "examples", "radio.toml")
GUIDE = os.path.join(DOCS, "config.md")

FULL = """\
[server]
listen = ["tcp:8000"]            # a string or a list of strings
public_url = "https://radio.example.org"
admin_password = "change-me"
shoutcast_source_listen = ["tcp:8001"]
header_timeout = 15
source_timeout = 10

[[mount]]
path = "/stream"
name = "Example FM"
genre = "Jazz"
description = "Jazz, mostly"
url = "https://example.org"
public = true
playlist = "MUSIC"
shuffle = true
live = true
source_password = "hackme"
max_listeners = 500
metaint = 16000
burst_size = 65536
fallback = "/backup"
push = { url = "http://icecast.example:8000/relay", password = "pw" }

[[mount]]
path = "/live"
live = true
source_password = "secret"
fallback = "/stream"

[[mount]]
path = "/relay"
relay = "http://origin.example:8000/stream"

[[mount]]
path = "/backup"
playlist = "jazz.m3u"
lag_limit = 65536
"""


class _Folder:
    """
    A mix-in giving each test a temporary folder with a C{music} folder and
    a C{jazz.m3u} playlist in it, where configuration files are written.
    """

    def setUp(self) -> None:
        """
        Make the folder.
        """
        self.folder = os.path.abspath(self.mktemp())
        self.music = os.path.join(self.folder, "music")
        os.makedirs(self.music)
        self.m3u = os.path.join(self.folder, "jazz.m3u")
        with open(self.m3u, "w") as f:
            f.write("music/one.mp3\n")
        self.configPath = os.path.join(self.folder, "radio.toml")

    def parse(self, text: str) -> RadioConfig:
        """
        Parse a configuration as if it were the file C{radio.toml} in the
        temporary folder.

        @param text: the TOML document.
        @return: the configuration.
        """
        return parseConfig(text, self.configPath)

    def assertConfigError(self, text: str, key: str | None, *fragments: str) -> ConfigError:
        """
        Assert that a configuration is refused with an error at a key.

        @param text: the TOML document.
        @param key: the key path the error must name, or L{None} for none.
        @param fragments: text the message must contain.
        @return: the error.
        """
        error = self.assertRaises(ConfigError, self.parse, text)
        message = str(error)
        self.assertEqual(error.key, key, message)
        self.assertTrue(message.startswith(self.configPath + ": "), message)
        if key is not None:
            self.assertIn(f": {key}: ", message)
        self.assertNotIn("\n", message)
        for fragment in fragments:
            self.assertIn(fragment, message)
        return error


def _mount(extra: str = "", path: str = "/x") -> str:
    """
    A one-mount configuration playing the temporary C{music} folder.

    @param extra: more lines for the mount's table.
    @param path: the mount path.
    @return: the TOML document.
    """
    return f'[[mount]]\npath = "{path}"\nplaylist = "music"\n{extra}\n'


class ParseConfigTests(_Folder, SynchronousTestCase):
    """
    L{parseConfig} turns a valid document into frozen values.
    """

    def test_fullExample(self) -> None:
        """
        The complete example of every key parses to the values it spells.
        """
        config = self.parse(FULL.replace("MUSIC", self.music))
        self.assertEqual(
            config.server,
            ServerConfig(
                listen=("tcp:8000",),
                publicURL="https://radio.example.org",
                adminPassword="change-me",
                shoutcastSourceListen=("tcp:8001",),
                headerTimeout=15.0,
                sourceTimeout=10.0,
            ),
        )
        self.assertIsInstance(config.server.headerTimeout, float)
        self.assertEqual([m.path for m in config.mounts], ["/stream", "/live", "/relay", "/backup"])
        self.assertEqual(
            config.mounts[0],
            MountConfig(
                path="/stream",
                name="Example FM",
                genre="Jazz",
                url="https://example.org",
                description="Jazz, mostly",
                public=True,
                playlist=self.music,
                shuffle=True,
                relay=None,
                live=True,
                sourcePassword="hackme",
                sourceUser="source",
                fallback="/backup",
                maxListeners=500,
                metaint=16000,
                burstSize=65536,
                lagLimit=524288,
                push=PushConfig(url="http://icecast.example:8000/relay", user="source", password="pw"),
            ),
        )
        self.assertEqual(
            config.mounts[1],
            MountConfig(path="/live", live=True, sourcePassword="secret", fallback="/stream"),
        )
        self.assertEqual(config.mounts[2], MountConfig(path="/relay", relay="http://origin.example:8000/stream"))
        self.assertEqual(config.mounts[3], MountConfig(path="/backup", playlist=self.m3u, lagLimit=65536))

    def test_kinds(self) -> None:
        """
        A mount's kind names its programme: playlist, relay, or live for a
        live-only mount.
        """
        config = self.parse(FULL.replace("MUSIC", self.music))
        self.assertEqual([m.kind for m in config.mounts], ["playlist", "live", "relay", "playlist"])

    def test_pushMount(self) -> None:
        """
        A push names the upstream mount its URL points at.
        """
        config = self.parse(FULL.replace("MUSIC", self.music))
        self.assertEqual(config.mounts[0].push.mount, "/relay")

    def test_frozen(self) -> None:
        """
        The values cannot be changed after parsing.
        """
        config = self.parse(_mount())
        self.assertRaises(AttributeError, setattr, config.mounts[0], "metaint", 1)
        self.assertRaises(AttributeError, setattr, config.server, "listen", ())
        self.assertRaises(AttributeError, setattr, config, "mounts", ())

    def test_defaults(self) -> None:
        """
        A file with one mount and no C{[server]} table gets every default.
        """
        config = self.parse(_mount())
        self.assertEqual(config.server, ServerConfig())
        self.assertEqual(config.server.listen, ("tcp:8000",))
        self.assertEqual(config.mounts, (MountConfig(path="/x", playlist=self.music),))
        mount = config.mounts[0]
        self.assertEqual(
            (mount.name, mount.metaint, mount.burstSize, mount.lagLimit), ("txradio", 16000, 65536, 524288)
        )
        self.assertIsNone(mount.push)
        self.assertIsNone(mount.sourcePassword)

    def test_listenString(self) -> None:
        """
        C{listen} may be one string instead of an array.
        """
        config = self.parse('[server]\nlisten = "tcp:9000:interface=127.0.0.1"\n' + _mount())
        self.assertEqual(config.server.listen, ("tcp:9000:interface=127.0.0.1",))

    def test_listenSeveral(self) -> None:
        """
        C{listen} keeps several endpoints in order.
        """
        config = self.parse('[server]\nlisten = ["tcp:8000", "tcp6:8000"]\n' + _mount())
        self.assertEqual(config.server.listen, ("tcp:8000", "tcp6:8000"))

    def test_floatTimeout(self) -> None:
        """
        Timeouts may be fractions of seconds.
        """
        config = self.parse("[server]\nsource_timeout = 2.5\n" + _mount())
        self.assertEqual(config.server.sourceTimeout, 2.5)

    def test_pathNormalized(self) -> None:
        """
        Mount paths and fallbacks are normalized with the station's rules.
        """
        config = self.parse(
            _mount('fallback = "live/"', path="stream/")
            + '[[mount]]\npath = "live"\nlive = true\nsource_password = "s"\n'
        )
        self.assertEqual([m.path for m in config.mounts], ["/stream", "/live"])
        self.assertEqual(config.mounts[0].fallback, "/live")

    def test_mountLookup(self) -> None:
        """
        L{RadioConfig.mount} finds a mount by any spelling of its path.
        """
        config = self.parse(FULL.replace("MUSIC", self.music))
        self.assertIs(config.mount("/live"), config.mounts[1])
        self.assertIs(config.mount("live"), config.mounts[1])
        self.assertIs(config.mount(b"/relay"), config.mounts[2])

    def test_mountLookupMissing(self) -> None:
        """
        L{RadioConfig.mount} raises L{KeyError} for a path that is no mount.
        """
        config = self.parse(_mount())
        self.assertRaises(KeyError, config.mount, "/nope")
        self.assertRaises(KeyError, config.mount, "/bad path")

    def test_relativePlaylist(self) -> None:
        """
        A relative playlist path is resolved against the configuration
        file's folder, not the current one.
        """
        config = self.parse(_mount())
        self.assertEqual(config.mounts[0].playlist, self.music)
        self.assertTrue(os.path.isabs(config.mounts[0].playlist))

    def test_relativePlaylistWithoutFile(self) -> None:
        """
        Without a file path, a relative playlist path is resolved against the
        current folder.
        """
        os.makedirs("here-music", exist_ok=True)
        config = parseConfig('[[mount]]\npath = "/x"\nplaylist = "here-music"\n')
        self.assertEqual(config.mounts[0].playlist, os.path.abspath("here-music"))

    def test_m3uPlaylist(self) -> None:
        """
        A playlist may be an C{.m3u} or C{.m3u8} file.
        """
        m3u8 = os.path.join(self.folder, "list.M3U8")
        shutil.copy(self.m3u, m3u8)
        config = self.parse(
            '[[mount]]\npath = "/a"\nplaylist = "jazz.m3u"\n[[mount]]\npath = "/b"\nplaylist = "list.M3U8"\n'
        )
        self.assertEqual([m.playlist for m in config.mounts], [self.m3u, m3u8])

    def test_liveOnly(self) -> None:
        """
        A mount with no playlist or relay is live-only when it accepts live
        sources with a password.
        """
        config = self.parse('[[mount]]\npath = "/live"\nlive = true\nsource_password = "s"\nsource_user = "dj"\n')
        self.assertEqual(config.mounts[0], MountConfig(path="/live", live=True, sourcePassword="s", sourceUser="dj"))
        self.assertEqual(config.mounts[0].kind, "live")

    def test_pushTable(self) -> None:
        """
        A push may be written as a C{[mount.push]} table, with its own user.
        """
        config = self.parse(
            _mount() + '[mount.push]\nurl = "https://ice.example/x"\nuser = "me"\npassword = "pw"\n'
        )
        self.assertEqual(config.mounts[0].push, PushConfig(url="https://ice.example/x", user="me", password="pw"))

    def test_fallbackChain(self) -> None:
        """
        Fallbacks may form a chain that ends.
        """
        config = self.parse(_mount('fallback = "/b"', "/a") + _mount('fallback = "/c"', "/b") + _mount("", "/c"))
        self.assertEqual([m.fallback for m in config.mounts], ["/b", "/c", None])

    def test_limits(self) -> None:
        """
        The ends of every numeric range are accepted.
        """
        config = self.parse(
            _mount(f"metaint = 1\nburst_size = 0\nlag_limit = {MIN_LAG_LIMIT}\nmax_listeners = 1", "/a")
            + _mount(f"metaint = {MAX_METAINT}\nburst_size = {MAX_BURST}", "/b")
            + "[server]\nheader_timeout = 3600\nsource_timeout = 0.001\n"
        )
        a, b = config.mounts
        self.assertEqual((a.metaint, a.burstSize, a.lagLimit, a.maxListeners), (1, 0, MIN_LAG_LIMIT, 1))
        self.assertEqual((b.metaint, b.burstSize), (MAX_METAINT, MAX_BURST))
        self.assertEqual((config.server.headerTimeout, config.server.sourceTimeout), (3600.0, 0.001))


class ExampleTests(_Folder, SynchronousTestCase):
    """
    The configurations shipped in C{docs/} parse.
    """

    def test_shippedExample(self) -> None:
        """
        C{docs/examples/radio.toml}, next to a C{music} folder, loads.
        """
        shutil.copy(EXAMPLE, self.configPath)
        config = loadConfig(self.configPath)
        self.assertEqual([m.path for m in config.mounts], ["/stream", "/live", "/relay"])
        self.assertEqual([m.kind for m in config.mounts], ["playlist", "live", "relay"])
        self.assertEqual(config.mounts[0].playlist, self.music)
        self.assertEqual(config.mount("/live").fallback, "/stream")
        self.assertEqual(config.mounts[0].push.mount, "/example")

    def test_shippedExampleNeedsMusic(self) -> None:
        """
        Without the C{music} folder beside it, the shipped example is refused
        with the playlist named.
        """
        os.rmdir(self.music)
        shutil.copy(EXAMPLE, self.configPath)
        error = self.assertRaises(ConfigError, loadConfig, self.configPath)
        self.assertEqual(error.key, "mount[1].playlist")

    def test_guideExamples(self) -> None:
        """
        Every complete configuration in C{docs/config.md} parses, and the
        first is the shipped example.
        """
        with open(GUIDE, encoding="utf-8") as f:
            guide = f.read()
        blocks = [b for b in re.findall(r"```toml\n(.*?)```", guide, re.S) if "[[mount]]" in b]
        self.assertGreaterEqual(len(blocks), 3)
        for block in blocks:
            self.parse(block.replace("/srv/music", self.music))
        with open(EXAMPLE, encoding="utf-8") as f:
            example = f.read()
        shipped = self.parse(example)
        self.assertEqual(self.parse(blocks[0]), shipped)


class ErrorTests(_Folder, SynchronousTestCase):
    """
    Every rule of the file is enforced with a one-line L{ConfigError} that
    names the key and the problem.
    """

    def test_syntaxErrorLine(self) -> None:
        """
        A TOML syntax error reports tomllib's line and column.
        """
        self.assertConfigError('[server]\nlisten = ["tcp:8000"]\nheader_timeout 15\n', None, "not valid TOML", "line 3")

    def test_syntaxErrorAtEnd(self) -> None:
        """
        A document cut short reports its last line.
        """
        self.assertConfigError("[server]\n\nlisten = ", None, "line 3")

    def test_hugeInteger(self) -> None:
        """
        An integer too long for Python to convert is a syntax error, not a
        crash.
        """
        self.assertConfigError(_mount("metaint = " + "1" * 5000), None, "too many digits")

    def test_hugeHexInteger(self) -> None:
        """
        A huge hexadecimal integer (which Python does convert) is out of
        range, and the message does not try to print it.
        """
        self.assertConfigError(_mount("metaint = 0x" + "f" * 5000), "mount[1].metaint", "very large")

    def test_deepNesting(self) -> None:
        """
        Arrays nested beyond Python's recursion limit are refused.
        """
        self.assertConfigError("x = " + "[" * 10000, None, "nested too deeply")

    def test_unknownTopLevelKey(self) -> None:
        """
        An unknown top-level key is refused, with a suggestion.
        """
        self.assertConfigError(
            "[[mounts]]\npath = '/x'\n", "mounts", "unknown key", "did you mean mount?", "known keys: dj, hls, hook, mount, mount_template, server"
        )

    def test_unknownServerKey(self) -> None:
        """
        An unknown key in C{[server]} is refused.
        """
        self.assertConfigError("[server]\nlistens = 'tcp:8000'\n" + _mount(), "server.listens", "did you mean listen?")

    def test_unknownMountKey(self) -> None:
        """
        An unknown key in a mount is refused with the known keys listed.
        """
        self.assertConfigError(
            _mount("", "/a") + _mount("metaint_x = 1", "/b"),
            "mount[2].metaint_x",
            "unknown key",
            "known keys: ", "bitrate, block, burst_size, ",
        )

    def test_unknownKeyFirst(self) -> None:
        """
        A misspelt key is reported rather than the problem it causes.
        """
        self.assertConfigError(
            '[[mount]]\npath = "/l"\nlive = true\nsource_pasword = "x"\n',
            "mount[1].source_pasword",
            "did you mean source_password?",
        )

    def test_unknownPushKey(self) -> None:
        """
        An unknown key in a push table is refused.
        """
        self.assertConfigError(
            _mount('push = { url = "http://a/b", password = "p", pass = "q" }'), "mount[1].push.pass", "unknown key"
        )

    def test_oddKeyQuoted(self) -> None:
        """
        A key that TOML must quote is quoted in the key path.
        """
        self.assertConfigError(_mount('"odd key" = 1'), 'mount[1]."odd key"', "unknown key")

    def test_serverNotTable(self) -> None:
        """
        C{server} must be a table.
        """
        self.assertConfigError('server = "x"\n' + _mount(), "server", "must be a table")

    def test_noMounts(self) -> None:
        """
        A file without mounts is refused.
        """
        self.assertConfigError("[server]\nlisten = 'tcp:8000'\n", None, "no mounts", "[[mount]]")

    def test_emptyFile(self) -> None:
        """
        An empty file is refused for having no mounts.
        """
        self.assertConfigError("", None, "no mounts")

    def test_emptyMountArray(self) -> None:
        """
        An empty array of mounts is refused.
        """
        self.assertConfigError("mount = []\n", None, "no mounts")

    def test_mountSingleTable(self) -> None:
        """
        C{[mount]} instead of C{[[mount]]} is refused with the fix.
        """
        self.assertConfigError("[mount]\npath = '/x'\nplaylist = 'music'\n", "mount", "write [[mount]]")

    def test_mountNotTable(self) -> None:
        """
        Each mount must be a table.
        """
        self.assertConfigError('mount = ["/x"]\n', "mount[1]", "must be a table")

    def test_mountPathRequired(self) -> None:
        """
        A mount without a path is refused.
        """
        self.assertConfigError("[[mount]]\nplaylist = 'music'\n", "mount[1].path", "is required")

    def test_mountPathInvalid(self) -> None:
        """
        A mount path the station would refuse is refused with its reason.
        """
        self.assertConfigError(_mount(path="/a b"), "mount[1].path", "spaces")
        self.assertConfigError(_mount(path="/list.m3u"), "mount[1].path", "playlist extension")
        self.assertConfigError(_mount(path="/"), "mount[1].path", "needs a name")
        self.assertConfigError(_mount(path=""), "mount[1].path", "must not be empty")

    def test_duplicatePaths(self) -> None:
        """
        Two mounts with the same path, however spelt, are refused.
        """
        self.assertConfigError(
            _mount(path="/a") + _mount(path="/b") + _mount(path="a/"),
            "mount[3].path",
            "/a is already the path of mount[1]",
        )

    def test_wrongTypeString(self) -> None:
        """
        A number where text is expected is refused.
        """
        self.assertConfigError(_mount("name = 5"), "mount[1].name", "must be a string, not an integer (5)")

    def test_wrongTypeBoolean(self) -> None:
        """
        Text or a number where a boolean is expected is refused.
        """
        self.assertConfigError(_mount('public = "yes"'), "mount[1].public", "must be true or false", "a string")
        self.assertConfigError(_mount("shuffle = 1"), "mount[1].shuffle", "must be true or false", "an integer")

    def test_booleanIsNotInteger(self) -> None:
        """
        A boolean where a whole number is expected is refused, though Python
        counts C{True} as 1.
        """
        self.assertConfigError(_mount("metaint = true"), "mount[1].metaint", "not a boolean (true)")
        self.assertConfigError(_mount("max_listeners = true"), "mount[1].max_listeners", "not a boolean")

    def test_floatIsNotInteger(self) -> None:
        """
        A float where a whole number is expected is refused.
        """
        self.assertConfigError(_mount("burst_size = 65536.0"), "mount[1].burst_size", "whole number", "a float")

    def test_stringIsNotInteger(self) -> None:
        """
        Text where a whole number is expected is refused.
        """
        self.assertConfigError(_mount('metaint = "16000"'), "mount[1].metaint", "whole number", "a string")

    def test_metaintRange(self) -> None:
        """
        C{metaint} must be from 1 to L{MAX_METAINT}.
        """
        self.assertConfigError(_mount("metaint = 0"), "mount[1].metaint", "from 1 to 1048576", "not 0")
        self.assertConfigError(_mount(f"metaint = {MAX_METAINT + 1}"), "mount[1].metaint", "not 1048577")

    def test_burstSizeRange(self) -> None:
        """
        C{burst_size} must be from 0 to 16 MiB.
        """
        self.assertConfigError(_mount("burst_size = -1"), "mount[1].burst_size", "from 0 to 16777216")
        self.assertConfigError(_mount(f"burst_size = {MAX_BURST + 1}"), "mount[1].burst_size", "not 16777217")

    def test_lagLimitRange(self) -> None:
        """
        C{lag_limit} must be at least L{MIN_LAG_LIMIT}.
        """
        self.assertConfigError(_mount("lag_limit = 16383"), "mount[1].lag_limit", "at least 16384")

    def test_maxListenersRange(self) -> None:
        """
        C{max_listeners} must be at least 1 (leaving it out means no limit).
        """
        self.assertConfigError(_mount("max_listeners = 0"), "mount[1].max_listeners", "at least 1")

    def test_timeoutRange(self) -> None:
        """
        Timeouts must be finite numbers of seconds more than 0 and at most
        an hour.
        """
        for value in ("0", "-1", "3601", "inf", "nan", "0x" + "f" * 40):
            self.assertConfigError(
                f"[server]\nheader_timeout = {value}\n" + _mount(), "server.header_timeout", "seconds"
            )
        self.assertConfigError("[server]\nsource_timeout = '10'\n" + _mount(), "server.source_timeout", "a string")
        self.assertConfigError("[server]\nsource_timeout = false\n" + _mount(), "server.source_timeout", "a boolean")

    def test_controlCharacters(self) -> None:
        """
        Text with control characters or line breaks is refused, since it
        ends up in headers.
        """
        self.assertConfigError(_mount('name = "a\\r\\nSet-Cookie: x"'), "mount[1].name", "control characters")

    def test_textTooLong(self) -> None:
        """
        Text longer than the limit is refused.
        """
        self.assertConfigError(_mount(f'description = "{"x" * 2000}"'), "mount[1].description", "2000 characters")

    def test_playlistAndRelay(self) -> None:
        """
        A mount with both a playlist and a relay is refused.
        """
        self.assertConfigError(_mount('relay = "http://a/b"'), "mount[1].relay", "both a playlist and a relay")

    def test_nothingToPlay(self) -> None:
        """
        A mount with no playlist, no relay and no live sources is refused.
        """
        self.assertConfigError('[[mount]]\npath = "/x"\n', "mount[1]", "nothing to play", "live = true")

    def test_liveWithoutPassword(self) -> None:
        """
        A mount that accepts live sources needs a source password: there is
        no default.
        """
        self.assertConfigError(
            '[[mount]]\npath = "/live"\nlive = true\n',
            "mount[1].source_password",
            "mount /live accepts live sources but has no source_password; there is no default",
        )

    def test_liveEmptyPassword(self) -> None:
        """
        An empty source password is refused.
        """
        self.assertConfigError(
            _mount('live = true\nsource_password = " "'), "mount[1].source_password", "must not be empty"
        )

    def test_passwordWithoutLive(self) -> None:
        """
        A source password on a mount that does not accept live sources is
        refused rather than silently ignored or taken to mean live.
        """
        self.assertConfigError(
            _mount('source_password = "s"'), "mount[1].source_password", "is set but live is not true"
        )
        self.assertConfigError(
            _mount('live = false\nsource_password = "s"'), "mount[1].source_password", "live is not true"
        )

    def test_sourceUserWithoutLive(self) -> None:
        """
        A source user on a mount that does not accept live sources is
        refused.
        """
        self.assertConfigError(_mount('source_user = "dj"'), "mount[1].source_user", "live is not true")

    def test_sourceUserColon(self) -> None:
        """
        A source user with a colon, which Basic authentication cannot carry,
        is refused.
        """
        self.assertConfigError(
            _mount('live = true\nsource_password = "s"\nsource_user = "a:b"'), "mount[1].source_user", "':'"
        )

    def test_shuffleWithoutPlaylist(self) -> None:
        """
        Shuffling a mount without a playlist is refused.
        """
        self.assertConfigError(
            '[[mount]]\npath = "/r"\nrelay = "http://a/b"\nshuffle = true\n', "mount[1].shuffle", "no playlist"
        )

    def test_playlistMissing(self) -> None:
        """
        A playlist that does not exist is refused with its resolved path.
        """
        error = self.assertConfigError(_mount().replace('"music"', '"musik"'), "mount[1].playlist", "does not exist")
        self.assertIn(os.path.join(self.folder, "musik"), str(error))

    def test_playlistOtherFile(self) -> None:
        """
        A playlist that is a file other than an M3U playlist is refused.
        """
        for name in ("song.mp3", "list.pls"):
            with open(os.path.join(self.folder, name), "w") as f:
                f.write("[playlist]\n")
            self.assertConfigError(
                _mount().replace('"music"', f'"{name}"'), "mount[1].playlist", "not an .m3u or .m3u8 playlist"
            )

    def test_playlistUnreadable(self) -> None:
        """
        A playlist file that cannot be read is refused.
        """
        if os.getuid() == 0:
            raise self.skipTest("root reads every file")
        os.chmod(self.m3u, 0)
        self.addCleanup(os.chmod, self.m3u, 0o644)
        self.assertConfigError(_mount().replace('"music"', '"jazz.m3u"'), "mount[1].playlist", "cannot be read")

    def test_playlistEmpty(self) -> None:
        """
        An empty playlist path is refused.
        """
        self.assertConfigError(_mount().replace('"music"', '""'), "mount[1].playlist", "must not be empty")

    def test_playlistUnencodable(self) -> None:
        """
        A playlist path the system cannot even look up is reported as
        missing.
        """
        self.assertConfigError(_mount().replace("music", "\ud800"), "mount[1].playlist", "does not exist")

    def test_fallbackMissing(self) -> None:
        """
        A fallback to a mount not in the file is refused, listing the mounts.
        """
        self.assertConfigError(
            _mount('fallback = "/backup"', "/a") + _mount("", "/b"),
            "mount[1].fallback",
            "falls back to /backup, which is not a mount here; mounts: /a, /b",
        )

    def test_briefExampleFallback(self) -> None:
        """
        The example without its C{/backup} mount is refused for falling back
        to it.
        """
        text = FULL.replace("MUSIC", self.music)
        text = text[: text.index('[[mount]]\npath = "/backup"')]
        self.assertConfigError(text, "mount[1].fallback", "/backup, which is not a mount")

    def test_fallbackSelf(self) -> None:
        """
        A mount falling back to itself is refused.
        """
        self.assertConfigError(_mount('fallback = "x"', "/x"), "mount[1].fallback", "cannot fall back to itself")

    def test_fallbackCycle(self) -> None:
        """
        Fallbacks that go round in a cycle are refused, with the cycle shown.
        """
        self.assertConfigError(
            _mount('fallback = "/b"', "/a") + _mount('fallback = "/a"', "/b"),
            "mount[1].fallback",
            "cycle (/a -> /b -> /a)",
        )

    def test_fallbackLongCycle(self) -> None:
        """
        A longer cycle, entered from a mount outside it, is reported at its
        first mount.
        """
        self.assertConfigError(
            _mount('fallback = "/b"', "/a")
            + _mount('fallback = "/c"', "/b")
            + _mount('fallback = "/d"', "/c")
            + _mount('fallback = "/b"', "/d"),
            "mount[2].fallback",
            "cycle (/b -> /c -> /d -> /b)",
        )

    def test_fallbackInvalid(self) -> None:
        """
        A fallback that is not a valid mount path is refused.
        """
        self.assertConfigError(_mount('fallback = "a b"'), "mount[1].fallback", "spaces")

    def test_relayScheme(self) -> None:
        """
        A relay URL must be http or https.
        """
        for url in ("ftp://a/b", "origin:8000/stream", "icecast://a/b"):
            self.assertConfigError(
                f'[[mount]]\npath = "/r"\nrelay = "{url}"\n', "mount[1].relay", "http:// or https://"
            )

    def test_relayBadURL(self) -> None:
        """
        A relay URL without a host, with a bad port or with spaces is
        refused.
        """
        for url, fragment in (
            ("http:///stream", "no host"),
            ("http://a:99999/x", "bad port"),
            ("http://a/b c", "spaces"),
            ("http://a/b#c", "fragment"),
        ):
            self.assertConfigError(f'[[mount]]\npath = "/r"\nrelay = "{url}"\n', "mount[1].relay", fragment)

    def test_relayCredentials(self) -> None:
        """
        A relay URL with credentials, which would be ignored, is refused.
        """
        self.assertConfigError('[[mount]]\npath = "/r"\nrelay = "http://u:p@a/b"\n', "mount[1].relay", "credentials")

    def test_relayNotString(self) -> None:
        """
        A relay must be a string.
        """
        self.assertConfigError('[[mount]]\npath = "/r"\nrelay = true\n', "mount[1].relay", "must be a string")

    def test_pushPasswordRequired(self) -> None:
        """
        A push needs a password.
        """
        self.assertConfigError(_mount('push = { url = "http://a/b" }'), "mount[1].push.password", "is required")
        self.assertConfigError(
            _mount('push = { url = "http://a/b", password = "" }'), "mount[1].push.password", "must not be empty"
        )

    def test_pushURLRequired(self) -> None:
        """
        A push needs a URL.
        """
        self.assertConfigError(_mount('push = { password = "p" }'), "mount[1].push.url", "is required")

    def test_pushScheme(self) -> None:
        """
        A push URL must be http or https.
        """
        self.assertConfigError(
            _mount('push = { url = "icecast://a/b", password = "p" }'), "mount[1].push.url", "http:// or https://"
        )

    def test_pushCredentials(self) -> None:
        """
        A push URL with credentials is refused: they belong in user and
        password.
        """
        self.assertConfigError(
            _mount('push = { url = "http://source:pw@a/b", password = "p" }'),
            "mount[1].push.url",
            "give them as user and password",
        )

    def test_pushNeedsMount(self) -> None:
        """
        A push URL must name the upstream mount.
        """
        for url in ("http://a", "http://a:8000/", "http://a/b?c=d"):
            self.assertConfigError(
                _mount(f'push = {{ url = "{url}", password = "p" }}'),
                "mount[1].push.url",
                "must name the upstream mount",
            )

    def test_pushUserColon(self) -> None:
        """
        A push user with a colon is refused.
        """
        self.assertConfigError(
            _mount('push = { url = "http://a/b", user = "a:b", password = "p" }'), "mount[1].push.user", "':'"
        )

    def test_pushNotTable(self) -> None:
        """
        A push must be a table.
        """
        self.assertConfigError(_mount('push = "http://a/b"'), "mount[1].push", "must be a table")

    def test_listenEmpty(self) -> None:
        """
        C{listen} must name at least one endpoint.
        """
        self.assertConfigError("[server]\nlisten = []\n" + _mount(), "server.listen", "at least one endpoint")

    def test_listenEmptyString(self) -> None:
        """
        An empty endpoint string is refused.
        """
        self.assertConfigError('[server]\nlisten = ""\n' + _mount(), "server.listen", "must not be empty")
        self.assertConfigError(
            '[server]\nlisten = ["tcp:8000", " "]\n' + _mount(), "server.listen[2]", "must not be empty"
        )

    def test_listenWrongType(self) -> None:
        """
        An endpoint that is not a string is refused.
        """
        self.assertConfigError("[server]\nlisten = 8000\n" + _mount(), "server.listen", "an integer")
        self.assertConfigError("[server]\nlisten = [8000]\n" + _mount(), "server.listen[1]", "an integer (8000)")

    def test_listenRepeated(self) -> None:
        """
        An endpoint listed twice is refused.
        """
        self.assertConfigError(
            '[server]\nlisten = ["tcp:8000", "tcp:8000"]\n' + _mount(), "server.listen[2]", "listed twice"
        )

    def test_shoutcastWithoutLive(self) -> None:
        """
        SHOUTcast v1 source ports without a live mount to feed are refused.
        """
        self.assertConfigError(
            '[server]\nshoutcast_source_listen = "tcp:8001"\n' + _mount(),
            "server.shoutcast_source_listen",
            "no mount has live = true",
        )

    def test_shoutcastSharesListen(self) -> None:
        """
        A SHOUTcast v1 source port cannot also be a listener port.
        """
        self.assertConfigError(
            '[server]\nshoutcast_source_listen = ["tcp:8000"]\n' + _mount('live = true\nsource_password = "s"'),
            "server.shoutcast_source_listen[1]",
            "also in listen",
        )

    def test_publicURL(self) -> None:
        """
        C{public_url} must be an http(s) base URL with a host.
        """
        for url in ("radio.example.org", "ftp://a", "https://", "http://a/?x=1", "http://u:p@a", "http://a b"):
            self.assertConfigError(f'[server]\npublic_url = "{url}"\n' + _mount(), "server.public_url")
        config = self.parse('[server]\npublic_url = "https://example.org/radio/"\n' + _mount())
        self.assertEqual(config.server.publicURL, "https://example.org/radio/")

    def test_adminPasswordEmpty(self) -> None:
        """
        An empty admin password is refused: leave it out to turn admin off.
        """
        self.assertConfigError('[server]\nadmin_password = ""\n' + _mount(), "server.admin_password", "leave it out")


class LoadConfigTests(_Folder, SynchronousTestCase):
    """
    L{loadConfig} reads a file and reports every way reading it fails as a
    L{ConfigError}.
    """

    def write(self, data: bytes) -> str:
        """
        Write the configuration file.

        @param data: its bytes.
        @return: its path.
        """
        with open(self.configPath, "wb") as f:
            f.write(data)
        return self.configPath

    def test_load(self) -> None:
        """
        A file is read as UTF-8, with playlists relative to its folder.
        """
        path = self.write(_mount('name = "Café FM"').encode("utf-8"))
        config = loadConfig(path)
        self.assertEqual(config.mounts[0].name, "Café FM")
        self.assertEqual(config.mounts[0].playlist, self.music)

    def test_byteOrderMark(self) -> None:
        """
        A UTF-8 byte order mark, as some editors write, is allowed.
        """
        config = loadConfig(self.write(b"\xef\xbb\xbf" + _mount().encode("utf-8")))
        self.assertEqual(config.mounts[0].path, "/x")

    def test_missing(self) -> None:
        """
        A missing file is reported with its path.
        """
        path = os.path.join(self.folder, "nope.toml")
        error = self.assertRaises(ConfigError, loadConfig, path)
        self.assertEqual(str(error), f"{path}: cannot read the configuration: No such file or directory")
        self.assertIsNone(error.key)

    def test_directory(self) -> None:
        """
        A folder is reported as unreadable.
        """
        error = self.assertRaises(ConfigError, loadConfig, self.folder)
        self.assertIn("cannot read the configuration", str(error))

    def test_notUTF8(self) -> None:
        """
        A file that is not UTF-8 is reported with the line of the first bad
        byte.
        """
        path = self.write(b'[[mount]]\npath = "/x"\nname = "Caf\xe9"\n')
        error = self.assertRaises(ConfigError, loadConfig, path)
        self.assertEqual(str(error), f"{path}: not UTF-8 text: undecodable byte at line 3; save the file as UTF-8")

    def test_tooLarge(self) -> None:
        """
        A file larger than L{MAX_FILE_SIZE} is refused without being parsed.
        """
        path = self.write(b"#" * (MAX_FILE_SIZE + 1))
        error = self.assertRaises(ConfigError, loadConfig, path)
        self.assertIn("is larger than", str(error))

    def test_syntaxError(self) -> None:
        """
        A syntax error in a file names the file and the line.
        """
        path = self.write(b"[server]\nlisten = [\n")
        error = self.assertRaises(ConfigError, loadConfig, path)
        self.assertTrue(str(error).startswith(path + ": not valid TOML: "))
        self.assertIn("line", str(error))


class ConfigErrorTests(SynchronousTestCase):
    """
    L{ConfigError} is a one-line L{ValueError} with its parts as attributes.
    """

    def test_parts(self) -> None:
        """
        The message is the file, the key and the problem.
        """
        error = ConfigError("radio.toml", "is required", "mount[1].path")
        self.assertIsInstance(error, ValueError)
        self.assertEqual(str(error), "radio.toml: mount[1].path: is required")
        self.assertEqual((error.file, error.key, error.problem), ("radio.toml", "mount[1].path", "is required"))

    def test_withoutKey(self) -> None:
        """
        Without a key, the message is the file and the problem.
        """
        self.assertEqual(str(ConfigError("radio.toml", "broken")), "radio.toml: broken")

    def test_oneLine(self) -> None:
        """
        Line breaks in the pieces do not break the message.
        """
        self.assertEqual(str(ConfigError("a\nb", "c\r\nd")), "a b: c d")


def _toml(value: object) -> str:
    """
    Write a value as TOML.

    @param value: a boolean, number, string, list or dict.
    @return: its TOML text.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(_line(k, v) for k, v in value.items()) + "}"


_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=12),
)
_values = st.one_of(
    _scalars,
    st.lists(_scalars, max_size=3),
    st.dictionaries(st.sampled_from(["url", "user", "password", "x"]), _scalars, max_size=3),
)

# For each known key: values that are right, and values that are plausible
# but wrong, so that documents get past the first check and many parse.
_SERVER_VALUES = {
    "listen": (["tcp:8000", ["tcp:8000", "tcp6:8000"]], [[], ""]),
    "public_url": (["https://radio.example.org"], ["radio.example.org"]),
    "admin_password": (["pw"], [""]),
    "shoutcast_source_listen": (["tcp:8001", []], ["tcp:8000"]),
    "header_timeout": ([15, 0.5], [0]),
    "source_timeout": ([10, 2.5], [-1]),
}
_MOUNT_VALUES = {
    "path": (["/a", "/b", "a/", "/c"], ["/x.m3u", ""]),
    "name": (["Example FM"], ["a\nb"]),
    "genre": (["Jazz"], [1]),
    "url": (["https://example.org"], [True]),
    "description": ([""], [[]]),
    "public": ([True, False], [1]),
    "playlist": (["music", "jazz.m3u"], ["nope", "radio.toml"]),
    "shuffle": ([True, False], ["yes"]),
    "relay": (["http://origin.example:8000/stream"], ["ftp://h/x", "http://u:p@h/x"]),
    "live": ([True, False], [1]),
    "source_password": (["pw"], [""]),
    "source_user": (["source"], ["a:b"]),
    "fallback": (["/a", "/b", "/c"], ["/"]),
    "max_listeners": ([1, 500], [0]),
    "metaint": ([1, 16000], [MAX_METAINT + 1, True]),
    "burst_size": ([0, 65536], [-1]),
    "lag_limit": ([MIN_LAG_LIMIT], [1]),
    "push": ([{"url": "http://h:8000/x", "password": "p"}], [{"url": "http://h/"}]),
}


def _table(known: dict[str, tuple[list[object], list[object]]], required: tuple[str, ...] = ()):
    """
    Tables with some known keys, each with a right, a wrong or an arbitrary
    value, and now and then an unknown key.

    @param known: the known keys, with right and wrong values for each.
    @param required: keys every table has.
    @return: a strategy for dicts.
    """

    @st.composite
    def tables(draw) -> dict[str, object]:
        optional = sorted(set(known) - set(required))
        keys = list(required) + draw(st.lists(st.sampled_from(optional), unique=True, max_size=8))
        table = {}
        for key in keys:
            # Hypothesis favours small numbers, so the rare cases are
            # numbers in the middle of the range.
            choice = draw(st.integers(0, 19))
            right, wrong = known[key]
            if choice == 7:
                table[key] = draw(_values)
            elif choice in (11, 13):
                table[key] = draw(st.sampled_from(wrong))
            else:
                table[key] = draw(st.sampled_from(right))
        if draw(st.integers(0, 30)) == 17:
            odd = draw(st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=5))
            table[odd] = draw(_values)
        return table

    return tables()


def _line(key: str, value: object) -> str:
    """
    Write one key/value pair as TOML.

    @param key: the key.
    @param value: the value.
    @return: the line.
    """
    return f"{json.dumps(key, ensure_ascii=False)} = {_toml(value)}"


@st.composite
def _documents(draw) -> str:
    """
    Configuration documents built from known keys and plausible or
    arbitrary values.

    @param draw: hypothesis' draw.
    @return: the TOML text.
    """
    lines = []
    if draw(st.booleans()):
        lines.append("[server]")
        lines += [_line(k, v) for k, v in draw(_table(_SERVER_VALUES)).items()]
    for mount in draw(st.lists(_table(_MOUNT_VALUES, required=("path",)), max_size=4)):
        lines.append("[[mount]]")
        lines += [_line(k, v) for k, v in mount.items()]
    return "\n".join(lines) + "\n"


class FuzzTests(_Folder, SynchronousTestCase):
    """
    Whatever the input, L{parseConfig} returns a configuration or raises
    L{ConfigError}, and nothing else.
    """

    def check(self, text: str) -> None:
        """
        Parse a document and check that the outcome is a valid
        configuration or a one-line L{ConfigError}.

        @param text: the document.
        """
        try:
            config = self.parse(text)
        except ConfigError as error:
            self.assertNotIn("\n", str(error))
            return
        self.assertIsInstance(config, RadioConfig)
        self.assertTrue(config.mounts)
        self.assertTrue(config.server.listen)
        paths = [m.path for m in config.mounts]
        self.assertEqual(len(set(paths)), len(paths))
        for mount in config.mounts:
            self.assertIn(mount.kind, ("playlist", "relay", "live"))
            self.assertFalse(mount.playlist is not None and mount.relay is not None)
            self.assertEqual(mount.live, mount.sourcePassword is not None)
            self.assertTrue(mount.fallback is None or mount.fallback in paths)

    @settings(max_examples=200)
    @given(st.text())
    def test_arbitraryText(self, text: str) -> None:
        """
        Arbitrary text never raises anything but L{ConfigError}.
        """
        self.check(text)

    @settings(max_examples=200)
    @given(_documents())
    def test_arbitraryDocuments(self, text: str) -> None:
        """
        Well-formed documents with known keys and arbitrary values never
        raise anything but L{ConfigError}, and what parses is consistent.
        """
        self.check(text)


class HLSConfigTests(_Folder, SynchronousTestCase):
    """
    The C{[hls]} table and a mount's C{hls} key.
    """

    def test_defaults(self) -> None:
        """
        Without an C{[hls]} table, HLS is on with 6-second segments and
        6-segment playlists, for every mount.
        """
        config = self.parse(_mount())
        self.assertEqual(config.hls, HLSConfig(enabled=True, segment=6, window=6))
        self.assertTrue(config.mounts[0].hls)

    def test_table(self) -> None:
        """
        C{[hls]} sets the segment length, the window and whether HLS is on.
        """
        config = self.parse("[hls]\nsegment = 4\nwindow = 10\nenabled = false\n" + _mount())
        self.assertEqual(config.hls, HLSConfig(enabled=False, segment=4, window=10))

    def test_mountOptsOut(self) -> None:
        """
        C{hls = false} in a mount's table leaves that mount without HLS.
        """
        config = self.parse(_mount("hls = false") + _mount(path="/y"))
        self.assertEqual([m.hls for m in config.mounts], [False, True])

    def test_badValues(self) -> None:
        """
        Segments last 1 to 30 whole seconds, playlists list 3 to 30 of them,
        and C{enabled} and a mount's C{hls} are booleans.
        """
        for table, key, fragment in (
            ("segment = 0", "hls.segment", "from 1 to 30 seconds"),
            ("segment = 31", "hls.segment", "from 1 to 30 seconds"),
            ("segment = 6.5", "hls.segment", "not a float"),
            ("segment = true", "hls.segment", "not a boolean"),
            ("window = 2", "hls.window", "from 3 to 30 segments"),
            ("window = 31", "hls.window", "from 3 to 30 segments"),
            ('enabled = "no"', "hls.enabled", "true or false"),
            ("target = 6", "hls.target", "unknown key"),
        ):
            self.assertConfigError(f"[hls]\n{table}\n" + _mount(), key, fragment)
        self.assertConfigError(_mount("hls = 0"), "mount[1].hls", "true or false")

    def test_notATable(self) -> None:
        """
        C{hls} at the top level must be a table.
        """
        self.assertConfigError("hls = true\n" + _mount(), "hls", "must be a table")
        self.assertConfigError("[[hls]]\nsegment = 6\n" + _mount(), "hls", "must be a table")


class DeclarationTests(_Folder, SynchronousTestCase):
    """
    Each setting is declared once, on its value's field: the file's keys,
    the checks and the reference come from the declarations.
    """

    def test_keysFromFields(self) -> None:
        """
        A table's keys are its fields' names in C{snake_case}, or the key a
        declaration names.
        """
        from txradio.config._check import knownKeys, snakeCase

        self.assertEqual(snakeCase("sourcePassword"), "source_password")
        self.assertEqual(snakeCase("publicURL"), "public_url")
        self.assertIn("max_connections_per_address", knownKeys(ServerConfig))
        self.assertIn("on", knownKeys(HookConfig))
        self.assertEqual(len(knownKeys(MountConfig)), len(MountConfig.__dataclass_fields__))

    def test_icyStatus(self) -> None:
        """
        C{icy_status}, the file twin of C{--icy-status}, is a boolean, off
        by default.
        """
        self.assertFalse(self.parse(_mount()).mounts[0].icyStatus)
        self.assertTrue(self.parse(_mount("icy_status = true")).mounts[0].icyStatus)
        self.assertConfigError(_mount("icy_status = 1"), "mount[1].icy_status", "true or false")

    def test_requiredWithDefault(self) -> None:
        """
        A setting declared required is required in the file even though
        its value class has a default.
        """
        self.assertConfigError(_mount('push = { url = "http://h:8000/x" }'), "mount[1].push.password", "is required")


class ReferenceTests(SynchronousTestCase):
    """
    The reference tables of C{docs/config.md} are what the declarations
    write.
    """

    def test_guideCurrent(self) -> None:
        """
        The committed guide's tables are the generated ones; run
        C{python -m txradio.config.reference} after changing a setting.
        """
        from txradio.config.reference import update

        with open(GUIDE, encoding="utf-8") as f:
            guide = f.read()
        self.assertEqual(update(guide), guide)

    def test_everyKeyDocumented(self) -> None:
        """
        Every key of every table has a row, with the option that sets it.
        """
        from txradio.config._check import knownKeys
        from txradio.config.reference import TABLES, commandLine, table

        for name, cls in TABLES:
            text = table(name, cls, commandLine())
            for key in knownKeys(cls):
                self.assertIn(f"| `{key}` |", text)
        self.assertIn("`--metaint`", table("mount", MountConfig, commandLine()))
        self.assertIn("`--format`", table("mount", MountConfig, commandLine()))

    def test_markersRequired(self) -> None:
        """
        A guide without a table's markers is an error, not a silent skip.
        """
        from txradio.config.reference import update

        self.assertRaises(ValueError, update, "no markers here", {})

    def test_check(self) -> None:
        """
        C{--check} exits 1 for an out-of-date guide and leaves it alone;
        without it the guide is rewritten.
        """
        from txradio.config.reference import main

        with open(GUIDE, encoding="utf-8") as f:
            guide = f.read()
        path = self.mktemp()
        stale = guide.replace("| `metaint` |", "| `metaint_old` |")
        with open(path, "w", encoding="utf-8") as f:
            f.write(stale)
        self.patch(sys, "stderr", io.StringIO())
        self.assertEqual(main(["--check", path]), 1)
        self.assertEqual(main([path]), 0)
        with open(path, encoding="utf-8") as f:
            self.assertEqual(f.read(), guide)
