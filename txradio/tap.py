# -*- test-case-name: tests.test_tap -*-
"""
The C{twistd txradio} command line: options, and the service they build.
"""

from __future__ import annotations

import os
from dataclasses import replace

from twisted.logger import Logger
from twisted.python import usage

from txradio.stream.broadcast import DEFAULT_BURST
from txradio.operations.clock import steadyReactorTime
from txradio.config import LOG_ADDRESSES, METRICS_MODES, ConfigError, ServerConfig, loadConfig
from txradio.wire.icy import DEFAULT_METAINT, MAX_METAINT, StreamInfo
from txradio.wire.audioformat import BITRATES, POLICIES, SKIP, TRANSCODE, findEncoder, parseFormat, refuser
from txradio.build import (
    EncoderMissing,
    checkEncoder,
    configureOperations,
    conformer,
    derivedStation,
    serviceFromConfig,
    shoutcastEndpointFor,
)
from txradio.reload import Reloader
from txradio.service import DEFAULT_LISTEN, RadioService
from txradio.operations.signals import SignalService
from txradio.sources.playlist import PlaylistSource
from txradio.sources.tracks import FolderTracks, NoTracks, demoTracks
from txradio.stream.segmenter import DEFAULT_TARGET_DURATION, DEFAULT_WINDOW, MAX_TARGET_DURATION, MAX_WINDOW, MIN_WINDOW
from txradio.stream.station import DEFAULT_MOUNT, Station, normalizeMount
from txradio.web.hls import HLSSettings
from txradio.library.index import Library

_log = Logger()


def _positive(name: str, text: str, maximum: int | None = None, allowZero: bool = False) -> int:
    """
    Parse a whole-number option.

    @param name: the option, for the error message.
    @param text: its value.
    @param maximum: the largest value allowed.
    @param allowZero: whether 0 is allowed.
    @return: the number.
    @raise usage.UsageError: when it is not a number in range.
    """
    try:
        value = int(text)
    except ValueError:
        raise usage.UsageError(f"--{name} needs a whole number, not {text!r}") from None
    if value < 0 or (value == 0 and not allowZero) or (maximum is not None and value > maximum):
        limit = f" up to {maximum}" if maximum is not None else ""
        raise usage.UsageError(f"--{name} must be a positive number{limit}, not {value}")
    return value


def withListen(config, listen: tuple[str, ...]):
    """
    A configuration with other listener ports.

    @param config: a L{txradio.config.RadioConfig}.
    @param listen: endpoint strings.
    @return: a copy whose C{server.listen} is C{listen}.
    """
    return replace(config, server=replace(config.server, listen=listen))


class Options(usage.Options):
    """
    Options for C{twistd txradio}: one station playing a music folder.
    """

    synopsis = "[options]"
    longdesc = (
        "Run an internet radio station that plays the MP3 files of a folder "
        "(or the built-in demo playlist) in real time to every listener, "
        "speaking the ICY/SHOUTcast and Icecast dialects real players use."
    )

    optFlags = [
        ["shuffle", "s", "Play the folder in a random order (a new one each pass)."],
        ["icy-status", None, "Answer listeners with 'ICY 200 OK' (for very old clients)."],
        ["public", None, "Let stream directories list this station (icy-pub: 1)."],
        ["no-library", None, "Do not offer the music folder as an on-demand library at /library/."],
        ["no-hls", None, "Do not serve the mounts as HLS (MOUNT.m3u8)."],
    ]

    optParameters = [
        ["music-dir", "m", None, "The folder of MP3 files to play (searched recursively)."],
        ["mount", None, DEFAULT_MOUNT.decode(), "The path listeners tune into."],
        ["name", None, "txradio", "The station's name (icy-name)."],
        ["genre", None, "", "The station's genre (icy-genre)."],
        ["url", None, "", "The station's home page (icy-url)."],
        ["description", None, "", "A sentence about the station (icy-description)."],
        ["metaint", None, str(DEFAULT_METAINT), "Audio bytes between ICY metadata blocks."],
        ["burst-size", None, str(DEFAULT_BURST), "Bytes of recent audio sent to a new listener at once."],
        ["max-listeners", None, "0", "The most listeners at once (0: no limit)."],
        ["hls-segment", None, str(DEFAULT_TARGET_DURATION), "Seconds of audio in an HLS segment."],
        ["hls-window", None, str(DEFAULT_WINDOW), "Segments a live HLS playlist lists."],
        ["public-url", None, None, "The base URL clients use, for playlists behind a proxy."],
        [
            "source-password",
            None,
            None,
            "Let live source clients (Icecast PUT/SOURCE as user 'source'; SHOUTcast v1 "
            "on the port after each TCP listener port) broadcast to the mount with this "
            "password; the playlist plays whenever none is connected. Off by default.",
        ],
        ["admin-password", None, None, "The admin password (user 'admin'); admin functions are off without one."],
        ["library-dir", None, None, "The folder offered at /library/ [default: the music folder]."],
        [
            "format",
            None,
            "44100/2",
            "The format listeners get, RATE/CHANNELS[/BITRATEk] (e.g. 44100/2/128k); "
            "tracks and live sources of another format are transcoded or skipped.",
        ],
        [
            "format-policy",
            None,
            None,
            "What to do with audio of another format: transcode (needs ffmpeg) or skip "
            "[default: transcode when ffmpeg is installed, else skip].",
        ],
        [
            "also-bitrate",
            None,
            None,
            "Also serve the stream re-encoded at these bitrates (kbps, comma-separated), "
            "as MOUNT-64, MOUNT-192...; needs ffmpeg.",
        ],
        ["access-log", None, None, "Append an access log (combined format plus seconds listened) to this file."],
        ["playlist-log", None, None, "Append a playlist log (time|mount|listeners|title) to this file."],
        [
            "log-addresses",
            None,
            "full",
            "How listener addresses appear in logs and status: full, truncate (network only) or hash.",
        ],
        [
            "metrics",
            None,
            "admin",
            "How /metrics (Prometheus) is offered on the listener port: admin (needs the admin "
            "password), public, or off.",
        ],
        ["metrics-listen", None, None, "Also serve /metrics alone, without a password, on this endpoint (e.g. tcp:9100:interface=127.0.0.1)."],
        ["last-title", None, None, "A title sent to listeners as the server stops."],
        ["max-connections-per-address", None, "0", "The most connections one address may hold (0: no limit)."],
        [
            "config",
            "c",
            None,
            "A TOML file describing several mounts, sources, fallbacks and relays "
            "(see docs/config.md); the station options above are then not used.",
        ],
    ]

    def __init__(self) -> None:
        usage.Options.__init__(self)
        self["listen"] = []

    def opt_listen(self, description: str) -> None:
        """
        Where to accept listeners, as an endpoint string (e.g. tcp:8000,
        tcp:8000:interface=127.0.0.1, ssl:8443:privateKey=key.pem,
        systemd:domain=INET:index=0). Repeat for several. [default: tcp:8000]
        """
        self["listen"].append(description)

    opt_l = opt_listen

    def postOptions(self) -> None:
        """
        Check the options and fill in defaults.

        @raise usage.UsageError: for a missing music folder or a bad value.
        """
        if self["config"] is not None:
            try:
                self["radio"] = loadConfig(self["config"])
            except ConfigError as error:
                raise usage.UsageError(str(error)) from None
            if self["listen"]:
                # The command line's ports win over the file's (a systemd
                # unit passes its socket whatever the file says).
                self["radio"] = withListen(self["radio"], tuple(self["listen"]))
            try:
                self["encoder"] = checkEncoder(self["radio"])
            except EncoderMissing as error:
                raise usage.UsageError(f"{self['config']}: {error}") from None
            return
        if not self["listen"]:
            self["listen"] = [DEFAULT_LISTEN]
        try:
            self["mount"] = normalizeMount(self["mount"])
        except ValueError as error:
            raise usage.UsageError(f"--mount: {error}") from None
        self["metaint"] = _positive("metaint", self["metaint"], MAX_METAINT)
        self["burst-size"] = _positive("burst-size", self["burst-size"], 16 << 20, allowZero=True)
        self["max-listeners"] = _positive("max-listeners", self["max-listeners"], allowZero=True)
        self["hls"] = self._checkHLS()
        self._checkFormat()
        self._checkOperations()
        if self["music-dir"] is not None:
            folder = os.path.abspath(os.path.expanduser(self["music-dir"]))
            tracks = FolderTracks(folder, shuffle=self["shuffle"])
            try:
                tracks.check()
            except NoTracks as error:
                raise usage.UsageError(str(error)) from None
            self["tracks"] = tracks
        else:
            tracks = demoTracks()
            tracks.shuffle = self["shuffle"]
            self["tracks"] = tracks
        self["library"] = None
        if not self["no-library"]:
            if self["library-dir"] is not None:
                library = os.path.abspath(os.path.expanduser(self["library-dir"]))
                if not os.path.isdir(library):
                    raise usage.UsageError(f"--library-dir: {library!r} is not a folder")
            elif self["music-dir"] is not None:
                library = self["tracks"].folder
            else:
                library = os.path.dirname(self["tracks"].paths[0])
            self["library"] = library


    def _checkOperations(self) -> None:
        """
        Check the logging, metrics and shutdown options, and gather them as
        the C{[server]} settings a configuration file would give.

        @raise usage.UsageError: for a bad value.
        """
        if self["log-addresses"] not in LOG_ADDRESSES:
            raise usage.UsageError(f"--log-addresses must be one of {', '.join(LOG_ADDRESSES)}, not {self['log-addresses']!r}")
        if self["metrics"] not in METRICS_MODES:
            raise usage.UsageError(f"--metrics must be one of {', '.join(METRICS_MODES)}, not {self['metrics']!r}")
        logs = {}
        for option in ("access-log", "playlist-log"):
            if self[option] is not None:
                path = os.path.abspath(os.path.expanduser(self[option]))
                if os.path.isdir(path) or not os.path.isdir(os.path.dirname(path)):
                    raise usage.UsageError(f"--{option}: {path!r} is not a file in an existing folder")
                logs[option] = path
        self["server"] = ServerConfig(
            accessLog=logs.get("access-log"),
            playlistLog=logs.get("playlist-log"),
            logAddresses=self["log-addresses"],
            metrics=self["metrics"],
            metricsListen=(self["metrics-listen"],) if self["metrics-listen"] else (),
            lastTitle=self["last-title"],
            maxConnectionsPerAddress=_positive(
                "max-connections-per-address", self["max-connections-per-address"], allowZero=True
            ),
        )

    def _checkHLS(self) -> HLSSettings:
        """
        Check C{--hls-segment} and C{--hls-window}.

        @return: how the radio serves HLS (off with C{--no-hls}).
        @raise usage.UsageError: for a value out of range.
        """
        segment = _positive("hls-segment", self["hls-segment"], MAX_TARGET_DURATION)
        window = _positive("hls-window", self["hls-window"], MAX_WINDOW)
        if window < MIN_WINDOW:
            raise usage.UsageError(f"--hls-window must be at least {MIN_WINDOW} (RFC 8216), not {window}")
        return HLSSettings(enabled=not self["no-hls"], targetDuration=segment, windowSegments=window)

    def _checkFormat(self) -> None:
        """
        Check C{--format}, C{--format-policy} and C{--also-bitrate}, and
        find the encoder when they need it.

        @raise usage.UsageError: for a bad value, or a missing encoder when
            one is needed.
        """
        try:
            self["format"] = parseFormat(self["format"])
        except ValueError as error:
            raise usage.UsageError(f"--format: {error}") from None
        if self["format-policy"] is not None and self["format-policy"] not in POLICIES:
            raise usage.UsageError(f"--format-policy must be one of {', '.join(POLICIES)}, not {self['format-policy']!r}")
        bitrates: list[int] = []
        for part in (self["also-bitrate"] or "").split(","):
            if not part.strip():
                continue
            text = part.strip().lower().removesuffix("k")
            if not text.isdigit() or int(text) not in BITRATES:
                raise usage.UsageError(
                    f"--also-bitrate: {part.strip()!r} is not an MP3 bitrate; use some of {', '.join(map(str, BITRATES))}"
                )
            if int(text) not in bitrates:
                bitrates.append(int(text))
        self["also-bitrate"] = bitrates
        self["encoder"] = findEncoder("ffmpeg")
        needs = []
        if bitrates:
            needs.append("--also-bitrate")
        if self["format-policy"] == TRANSCODE:
            needs.append("--format-policy transcode")
        if needs and self["encoder"] is None:
            raise usage.UsageError(
                f"{' and '.join(needs)} need the encoder 'ffmpeg', which is not installed or not on PATH "
                "(on Debian: apt install ffmpeg)"
            )


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
    reloader = None
    if options["config"] is not None:
        _log.info("configuration from {path}", path=options["config"])
        radio = serviceFromConfig(options["radio"], reactor)
        listen = tuple(options["listen"]) if options["listen"] else None
        reloader = Reloader(radio, options["config"], options["radio"], reactor, listen=listen)
        radio.useReloader(reloader)
    else:
        radio = _radioFromOptions(options, reactor)
    if signals:
        SignalService(radio, reloader, reactor).setServiceParent(radio)
    return radio


def _radioFromOptions(options: Options, reactor) -> RadioService:
    """
    Build the one-station radio the command-line options describe.

    @param options: parsed L{Options}.
    @param reactor: the reactor.
    @return: the L{RadioService}.
    """
    tracks = options["tracks"]
    if options["music-dir"] is None:
        _log.info("no --music-dir given: playing the built-in demo playlist")
    else:
        _log.info("playing {folder}", folder=tracks.folder)
    mount = options["mount"]
    audioFormat = options.get("format") or parseFormat("44100/2")
    encoder = options.get("encoder")
    policy = options.get("format-policy") or (TRANSCODE if encoder else SKIP)
    refuse = refuser(audioFormat) if policy == SKIP else None
    source = PlaylistSource(tracks, clock=reactor, name=mount.decode(), refuse=refuse)
    info = StreamInfo(
        name=options["name"],
        genre=options["genre"],
        url=options["url"],
        description=options["description"],
        public=options["public"],
    )
    station = Station(
        source,
        mount=mount,
        info=info,
        clock=reactor,
        metaint=options["metaint"],
        burstSize=options["burst-size"],
        maxListeners=options["max-listeners"] or None,
        legacyStatus=options["icy-status"],
        sourcePassword=options["source-password"] or None,
        conform=conformer(audioFormat, policy, reactor, encoder, mount.decode()),
    )
    derived = [
        derivedStation(
            station,
            f"{mount.decode()}-{bitrate}",
            audioFormat.withBitrate(bitrate),
            reactor,
            encoder,
            info=replace(info, name=f"{info.name} ({bitrate} kbps)", bitrate=bitrate),
            metaint=options["metaint"],
            burstSize=options["burst-size"],
            maxListeners=options["max-listeners"] or None,
            legacyStatus=options["icy-status"],
        )
        for bitrate in options.get("also-bitrate") or ()
    ]
    shoutcast = []
    if station.acceptsSources:
        for description in options["listen"]:
            endpoint = shoutcastEndpointFor(description)
            if endpoint is not None:
                shoutcast.append((endpoint, station))
    server = options["server"]
    radio = RadioService(
        [station, *derived],
        listen=options["listen"],
        reactor=reactor,
        publicURL=options["public-url"],
        adminPassword=options["admin-password"] or None,
        shoutcastSources=shoutcast,
        library=Library(options["library"], clock=reactor) if options["library"] else None,
        hls=options.get("hls"),
        metrics=server.metrics,
        metricsListen=server.metricsListen,
    )
    configureOperations(radio, server, (), reactor)
    return radio
