# -*- test-case-name: tests.test_tap,tests.test_formats -*-
"""
The C{twistd txradio} command line: options, and the service they build.

The command line is another way of writing the configuration file.  Its
options come from the settings' declarations (L{txradio.config.values}):
each declared C{option} is an option here, with the setting's help and
default.  L{Options.postOptions} writes the options into a document of the
file's shape (C{{"server": {…}, "mount": [{…}, …], "hls": {…}}}) and checks
it with L{txradio.config.checkDocument}, so a setting means the same on
the command line and in the file; C{options["radio"]} is the
L{txradio.config.RadioConfig}, and L{makeService} builds it with the same
builder as a file (L{txradio.build.serviceFromConfig}).

Options that are not one setting each are listed in L{COMPOSITE}, the one
table of how they map onto the file's keys.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from twisted.logger import Logger
from twisted.python import usage

from txradio.build import (
    EncoderMissing,
    IntroError,
    checkEncoder,
    checkIntros,
    libraryFolder,
    serviceFromConfig,
    shoutcastEndpointFor,
)
from txradio.config import (
    DEFAULT_LISTEN,
    ConfigError,
    Declared,
    HLSConfig,
    MountConfig,
    RadioConfig,
    ServerConfig,
    checkDocument,
    declared,
    loadConfig,
)
from txradio.operations.clock import steadyReactorTime
from txradio.operations.signals import SignalService
from txradio.reload import Reloader
from txradio.service import RadioService
from txradio.sources.tracks import NoTracks, demoTracks, tracksFor
from txradio.stream.station import DEFAULT_MOUNT, normalizeMount
from txradio.wire.audioformat import BITRATES, TRANSCODE, parseFormat

_log = Logger()

COMMAND_LINE = "<command line>"
"""The name errors give the command line's document (never shown)."""

SECTIONS = (("server", ServerConfig, "server"), ("mount", MountConfig, "mount[1]"), ("hls", HLSConfig, "hls"))
"""The file's tables the options write into: the section, its value class,
and the key path of the table written (the command line's one mount is
C{mount[1]})."""


@dataclass(frozen=True)
class Composite:
    """
    A command-line option that is not one declared setting.

    @ivar option: the option, without C{--}.
    @ivar flag: whether it takes no argument.
    @ivar keys: the file's keys it writes, for the reference.
    @ivar help: what it does, for C{--help}.
    """

    option: str
    flag: bool
    keys: str
    help: str


COMPOSITE = (
    Composite(
        "format",
        False,
        "`mount.sample_rate`, `mount.channels`, `mount.bitrate`",
        "The format listeners get, RATE/CHANNELS[/BITRATEk] (e.g. 44100/2/128k); tracks and live sources of "
        "another format are transcoded or skipped. [default: 44100/2]",
    ),
    Composite(
        "also-bitrate",
        False,
        '`[[mount]]` tables with `path = "MOUNT-B"`, `derive_from = "MOUNT"`, `bitrate = B`, '
        '`name = "NAME (B kbps)"` and the mount\'s other stream info, `metaint`, `burst_size`, '
        "`max_listeners` and `icy_status`",
        "Also serve the stream re-encoded at these bitrates (kbps, comma-separated), as MOUNT-64, "
        "MOUNT-192...; needs ffmpeg.",
    ),
    Composite(
        "source-password",
        False,
        "`mount.live = true`, `mount.source_password`, `server.source_password` (so that sources may also "
        "make mounts of their own, as with Icecast's `<source-password>`), and `server.shoutcast_source_listen` "
        "= the port after each TCP `--listen` port",
        "Let live source clients (Icecast PUT/SOURCE as user 'source'; SHOUTcast v1 on the port after each TCP "
        "listener port) broadcast to the mount with this password, or to any other mount name, which exists "
        "while they are connected (see --no-dynamic-mounts); the playlist plays whenever none is connected. "
        "Off by default.",
    ),
    Composite(
        "no-dynamic-mounts",
        True,
        "`server.dynamic_mounts = false`",
        "With --source-password, let sources broadcast only to the mount, not make mounts of their own.",
    ),
    Composite(
        "source-password-file",
        False,
        "`mount.source_password` = `{ file = … }`, as `--source-password` does otherwise; without either, "
        "`TXRADIO_SOURCE_PASSWORD` = `{ env = … }` when that variable is set",
        "Like --source-password, with the password read from the first line of this file (not shown by ps). "
        "Without either option, the TXRADIO_SOURCE_PASSWORD environment variable is used when set.",
    ),
    Composite(
        "admin-password-file",
        False,
        "`server.admin_password` = `{ file = … }`; without it and `--admin-password`, "
        "`TXRADIO_ADMIN_PASSWORD` = `{ env = … }` when that variable is set",
        "The admin password, read from the first line of this file (not shown by ps). Without either admin "
        "password option, the TXRADIO_ADMIN_PASSWORD environment variable is used when set.",
    ),
    Composite(
        "max-listeners",
        False,
        "`mount.max_listeners`; `0` leaves it out (no limit)",
        "The most listeners at once (0: no limit). [default: 0]",
    ),
    Composite("library-dir", False, "`server.library`", "The folder offered at /library/ [default: the music folder]."),
    Composite(
        "no-library", True, "`server.library = false`", "Do not offer the music folder as an on-demand library."
    ),
    Composite("no-hls", True, "`hls.enabled = false`", "Do not serve the mounts as HLS (MOUNT.m3u8)."),
    Composite(
        "config",
        False,
        "the whole file; the options above are then not used, except `--listen`, which replaces "
        "`server.listen` (also on reload)",
        "A TOML file describing several mounts, sources, fallbacks and relays (see docs/config.md); the station "
        "options above are then not used.",
    ),
)
"""How the options that are not one setting each map onto the file's keys.
Besides these, C{--mount} defaults to C{/stream}, C{--music-dir} to the
built-in demo folder (and must hold MP3 files), and C{--listen} may be
repeated."""

_REPEATED = ("listen", "yp-url")
_DEFAULT_NAME = next(d.default for d in declared(MountConfig) if d.name == "name")
_INHERITED = ("genre", "url", "description", "public", "metaint", "burst_size", "max_listeners", "icy_status")
"""The keys a mount added by C{--also-bitrate} takes from the command line's mount."""


def declaredOptions() -> list[tuple[str, Declared]]:
    """
    The settings that have a command-line option.

    @return: C{(key path of their table, declaration)} pairs, e.g.
        C{("mount[1]", <metaint>)}.
    """
    return [(prefix, d) for _, cls, prefix in SECTIONS for d in declared(cls) if d.setting.option]


def _shown(d: Declared) -> str | None:
    """
    @param d: a declared setting.
    @return: its default as C{--help} shows it, or L{None} for none worth
        showing.
    """
    if d.setting.option == "mount":
        return DEFAULT_MOUNT.decode()
    if d.setting.option == "music-dir":
        return "the built-in demo playlist"
    if d.setting.shown is not None:
        return d.setting.shown.replace("`", "")
    if d.default in (None, "", False, (), 0) or isinstance(d.default, bool):
        return None
    if isinstance(d.default, tuple):
        return ", ".join(d.default)
    return f"{d.default:g}" if isinstance(d.default, float) else str(d.default)


def _optionTables() -> tuple[list[list[Any]], list[list[Any]]]:
    """
    @return: C{optFlags} and C{optParameters} for L{Options}: the declared
        options, then the composite ones.
    """
    flags: list[list[Any]] = []
    parameters: list[list[Any]] = []
    for _, d in declaredOptions():
        option = d.setting.option
        if option in _REPEATED:
            continue
        shown = _shown(d)
        help = d.setting.help + (f" [default: {shown}]" if shown else "")
        if d.default is False:
            flags.append([option, d.setting.short, help])
        else:
            parameters.append([option, d.setting.short, None, help])
    for composite in COMPOSITE:
        short = "c" if composite.option == "config" else None
        if composite.flag:
            flags.append([composite.option, short, composite.help])
        else:
            parameters.append([composite.option, short, None, composite.help])
    return flags, parameters


def _bitrates(text: str | None) -> list[int]:
    """
    Read C{--also-bitrate}.

    @param text: e.g. C{"64, 192k"}, or L{None}.
    @return: the bitrates in kbps, without repeats, in order.
    @raise usage.UsageError: for a bitrate MP3 does not have.
    """
    bitrates: list[int] = []
    for part in (text or "").split(","):
        if not part.strip():
            continue
        number = part.strip().lower().removesuffix("k")
        if not number.isdigit() or int(number) not in BITRATES:
            raise usage.UsageError(
                f"--also-bitrate: {part.strip()!r} is not an MP3 bitrate; use some of {', '.join(map(str, BITRATES))}"
            )
        if int(number) not in bitrates:
            bitrates.append(int(number))
    return bitrates


def _optionError(error: ConfigError, origins: dict[str, str]) -> str:
    """
    Say a problem of the command line's document in terms of its options.

    @param error: the problem, at a key path of the document.
    @param origins: the option that wrote each key path.
    @return: e.g. C{"--metaint must be a whole number from 1 to 1048576
        bytes, not 0"}.
    """
    key = re.sub(r"\[\d+\]$", "", error.key or "")
    option = origins.get(key)
    while option is None and "." in key:
        # A key inside a table an option wrote (admin_password.file).
        key = key.rsplit(".", 1)[0]
        option = origins.get(key)
    if option is None:
        return error.problem if error.key is None else f"{error.key}: {error.problem}"
    separator = " " if error.problem.startswith(("must ", "is ")) else ": "
    return f"--{option}{separator}{error.problem}"


class Options(usage.Options):
    """
    Options for C{twistd txradio}: one station playing a music folder, or
    the radio a configuration file describes.
    """

    synopsis = "[options]"
    longdesc = (
        "Run an internet radio station that plays the MP3 files of a folder "
        "(or the built-in demo playlist) in real time to every listener, "
        "speaking the ICY/SHOUTcast and Icecast dialects real players use."
    )

    optFlags, optParameters = _optionTables()

    def __init__(self) -> None:
        usage.Options.__init__(self)
        self["listen"] = []
        self["yp-url"] = []

    def opt_listen(self, description: str) -> None:
        """
        Where to accept listeners, as an endpoint string (e.g. tcp:8000,
        tcp:8000:interface=127.0.0.1, ssl:8443:privateKey=key.pem,
        systemd:domain=INET:index=0). Repeat for several. [default: tcp:8000]
        """
        self["listen"].append(description)

    opt_l = opt_listen

    def opt_yp_url(self, url: str) -> None:
        """
        List the mount in this stream directory (Icecast's YP protocol, e.g.
        http://dir.xiph.org/cgi-bin/yp-cgi) when it is --public. Repeat for
        several.
        """
        self["yp-url"].append(url)

    def postOptions(self) -> None:
        """
        Turn the options into a configuration, checked as a file would be:
        C{self["radio"]} is the L{RadioConfig}, C{self["encoder"]} the
        encoder program (or L{None}), C{self["library"]} the library's
        folder (or L{None}).

        @raise usage.UsageError: for a bad value, naming the option (or the
            file and key), or a missing encoder that a mount needs.
        """
        if self["config"] is not None:
            try:
                radio = loadConfig(self["config"])
            except ConfigError as error:
                raise usage.UsageError(str(error)) from None
            if self["listen"]:
                # The command line's ports win over the file's (a systemd
                # unit passes its socket whatever the file says).
                radio = radio.withListen(tuple(self["listen"]))
            try:
                self["encoder"] = checkEncoder(radio)
                checkIntros(radio, self["encoder"])
            except (EncoderMissing, IntroError) as error:
                raise usage.UsageError(f"{self['config']}: {error}") from None
        else:
            radio = self.radioConfig()
            self["listen"] = list(radio.server.listen)
        self["radio"] = radio
        self["library"] = libraryFolder(radio)

    def radioConfig(self) -> RadioConfig:
        """
        Check the station options as the file road checks a file.

        @return: the configuration they describe.
        @raise usage.UsageError: for a bad value, naming the option.
        """
        document, origins = self.document()
        try:
            radio = checkDocument(document, COMMAND_LINE, os.getcwd())
        except ConfigError as error:
            raise usage.UsageError(_optionError(error, origins)) from None
        if self["music-dir"] is not None:
            try:
                tracksFor(radio.mounts[0].playlist).check()
            except NoTracks as error:
                raise usage.UsageError(f"--music-dir: {error}") from None
        try:
            self["encoder"] = checkEncoder(radio)
        except EncoderMissing as error:
            needs = ["--also-bitrate"] if self["also-bitrate"] else []
            if self["format-policy"] == TRANSCODE:
                needs.append("--format-policy transcode")
            raise usage.UsageError(
                f"{' and '.join(needs)} need the encoder {error.executable!r}, which is not installed or not on "
                "PATH (on Debian: apt install ffmpeg)"
            ) from None
        return radio

    def document(self) -> tuple[dict[str, Any], dict[str, str]]:
        """
        Write the options as the file would hold them.

        @return: the document, and which option wrote each key path (e.g.
            C{{"mount[1].metaint": "metaint"}}).
        @raise usage.UsageError: for an option whose text cannot be such a
            value (C{--metaint x}).
        """
        tables: dict[str, dict[str, Any]] = {
            "server": {},
            "mount[1]": {"path": DEFAULT_MOUNT.decode(), "playlist": os.path.dirname(demoTracks().paths[0])},
            "hls": {},
        }
        origins: dict[str, str] = {}

        def put(prefix: str, key: str, value: Any, option: str) -> None:
            tables[prefix][key] = value
            origins[f"{prefix}.{key}"] = option

        for prefix, d in declaredOptions():
            option = d.setting.option
            assert option is not None  # declaredOptions() keeps only these
            value = self[option]
            if d.default is False:
                # A flag: usage.Options counts it (0 when absent).
                if not value:
                    continue
                value = True
            elif value is None or value == []:
                continue
            elif isinstance(value, str):
                try:
                    value = d.setting.kind.fromOption(value)
                except ValueError as error:
                    raise usage.UsageError(f"--{option} {error}") from None
            put(prefix, d.key, value, option)
        self._composite(tables, put)
        mount = tables["mount[1]"]
        mounts = [mount]
        for bitrate in _bitrates(self["also-bitrate"]):
            try:
                parent = normalizeMount(mount["path"]).decode()
            except ValueError:
                break  # The first mount's path is refused first.
            derived = {key: mount[key] for key in _INHERITED if key in mount}
            derived.update(
                path=f"{parent}-{bitrate}",
                derive_from=parent,
                bitrate=bitrate,
                name=f"{mount.get('name', _DEFAULT_NAME)} ({bitrate} kbps)",
            )
            prefix = f"mount[{len(mounts) + 1}]"
            origins.update({f"{prefix}.{key}": origins[f"mount[1].{key}"] for key in derived if key in _INHERITED})
            origins.update({f"{prefix}.{key}": "also-bitrate" for key in ("path", "derive_from", "bitrate", "name")})
            mounts.append(derived)
        return {"server": tables["server"], "mount": mounts, "hls": tables["hls"]}, origins

    def _composite(self, tables: dict[str, dict[str, Any]], put) -> None:
        """
        Write the options of L{COMPOSITE} (but C{--also-bitrate}).

        @param tables: the document's tables by key path.
        @param put: C{put(prefix, key, value, option)} writes one key.
        @raise usage.UsageError: for a bad C{--format} or
            C{--max-listeners}.
        """
        if self["format"] is not None:
            try:
                audioFormat = parseFormat(self["format"])
            except ValueError as error:
                raise usage.UsageError(f"--format: {error}") from None
            put("mount[1]", "sample_rate", audioFormat.sampleRate, "format")
            put("mount[1]", "channels", audioFormat.channels, "format")
            if audioFormat.bitrate is not None:
                put("mount[1]", "bitrate", audioFormat.bitrate, "format")
        if self["max-listeners"] is not None:
            text = self["max-listeners"].strip()
            if not text.isdigit():
                raise usage.UsageError(f"--max-listeners must be a whole number, 0 for no limit, not {text!r}")
            if int(text) != 0:
                put("mount[1]", "max_listeners", int(text), "max-listeners")
        self._secrets(put)
        sourcePassword = tables["mount[1]"].get("source_password")
        if sourcePassword is not None:
            option = "source-password-file" if self["source-password-file"] is not None else "source-password"
            put("mount[1]", "live", True, option)
            # Icecast's one <source-password>: the mount's, and the one
            # sources may make new mounts with.
            put("server", "source_password", sourcePassword, option)
            shoutcast: list[str] = []
            for description in self["listen"] or DEFAULT_LISTEN:
                endpoint = shoutcastEndpointFor(description)
                if endpoint is not None and endpoint not in shoutcast:
                    shoutcast.append(endpoint)
            if shoutcast:
                put("server", "shoutcast_source_listen", shoutcast, option)
        if self["no-dynamic-mounts"]:
            put("server", "dynamic_mounts", False, "no-dynamic-mounts")
        if self["no-library"]:
            put("server", "library", False, "no-library")
        elif self["library-dir"] is not None:
            put("server", "library", self["library-dir"], "library-dir")
        if self["no-hls"]:
            put("hls", "enabled", False, "no-hls")


    def _secrets(self, put) -> None:
        """
        Write the passwords given by file or by environment variable (see
        L{SECRET_OPTIONS}); C{--admin-password} was written as a declared
        option, C{--source-password} is written here.

        @param put: C{put(prefix, key, value, option)} writes one key.
        @raise usage.UsageError: when a password is given both literally and
            by file.
        """
        for prefix, key, literal, fileOption, variable in SECRET_OPTIONS:
            if self[literal] is not None and self[fileOption] is not None:
                raise usage.UsageError(f"give one of --{literal} and --{fileOption}, not both")
            if self[fileOption] is not None:
                value, option = {"file": self[fileOption]}, fileOption
            elif self[literal] is not None:
                value, option = self[literal], literal
            elif os.environ.get(variable):
                value, option = {"env": variable}, f"{literal} (from {variable})"
            else:
                continue
            put(prefix, key, value, option)


SECRET_OPTIONS = (
    ("server", "admin_password", "admin-password", "admin-password-file", "TXRADIO_ADMIN_PASSWORD"),
    ("mount[1]", "source_password", "source-password", "source-password-file", "TXRADIO_SOURCE_PASSWORD"),
)
"""The passwords the command line takes literally, from a file or from the
environment: the table and key they set, the literal option, the file
option, and the environment variable read when neither is given."""


def makeService(options: Options, reactor=None, signals: bool = True) -> RadioService:
    """
    Build the radio the options describe, with its signal handlers:
    C{SIGHUP} reloads the configuration file, C{SIGUSR1} reopens the logs.

    @param options: parsed L{Options}.
    @param reactor: the reactor; the global one by default (tests pass a
        fake).
    @param signals: whether to handle signals while the radio runs.
    @return: the L{RadioService}.
    """
    if reactor is None:
        from twisted.internet import reactor

        # Only the real reactor: a step of the wall clock must not stall it.
        steadyReactorTime(reactor)
    if options["config"] is not None:
        _log.info("configuration from {path}", path=options["config"])
    elif options["music-dir"] is None:
        _log.info("no --music-dir given: playing the built-in demo playlist")
    else:
        _log.info("playing {folder}", folder=options["radio"].mounts[0].playlist)
    radio = serviceFromConfig(options["radio"], reactor, encoder=options["encoder"])
    reloader = None
    if options["config"] is not None:
        # Ports given with --config win over the file's on reload too.
        listen = tuple(options["listen"]) if options["listen"] else None
        reloader = Reloader(radio, options["config"], options["radio"], reactor, listen=listen)
        radio.useReloader(reloader)
    if signals:
        SignalService(radio, reloader, reactor).setServiceParent(radio)
    return radio
