# -*- test-case-name: tests.test_config -*-
"""
A mount's values, each field declaring one setting: the C{[[mount]]} table
(L{MountConfig}) and its C{push} table (L{PushConfig}).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from txradio.config._check import setting
from txradio.config.access import AgentPatterns, Networks, PasswordPath
from txradio.config.kinds import Among, Choice, Flag, Integer, Level, Seconds, SubTable, Text, User
from txradio.config.places import Folder, HookURL, IntroFile, MountPath, Playlist, Upstream
from txradio.config.schedule import BlockConfig, JinglesConfig, SubTables
from txradio.config.secrets import Secret
from txradio.stream.broadcast import DEFAULT_BURST
from txradio.stream.listener import DEFAULT_LAG_LIMIT
from txradio.wire.audioformat import BITRATES, POLICIES, SAMPLE_RATES, AudioFormat
from txradio.wire.icy import DEFAULT_METAINT, MAX_METAINT
from txradio.wire.passwordhash import PasswordHash

MAX_CROSSFADE = 15.0
"""The longest crossfade, in seconds."""

MAX_BURST = 16 << 20
"""The largest C{burst_size} accepted, in bytes (16 MiB)."""

MIN_LAG_LIMIT = 16384
"""The smallest C{lag_limit} accepted, in bytes."""

MAX_LISTENER_DURATION = 7 * 24 * 3600
"""The longest C{max_listener_duration} accepted, in seconds (a week)."""

MAX_RECORDINGS_KEPT = 10000
"""The largest C{recordings_keep} accepted."""

MAX_RECORDING_SECONDS = 24 * 3600
"""The longest C{record_max_seconds} accepted (a day)."""

MAX_RECORDING_MEGABYTES = 4096
"""The largest C{record_max_megabytes} accepted (4 GiB)."""

MAX_TIMEOUT = 3600.0
"""The longest duration a setting in seconds accepts (C{header_timeout}, a
hook's C{timeout}…)."""


@dataclass(frozen=True, slots=True)
class PushConfig:
    """
    Where a mount is pushed as a source client: a mount's C{push} table.

    @ivar url: the upstream Icecast mount, C{http://host:port/mount} or
        C{https://…}, without credentials.
    @ivar user: the source user there.
    @ivar password: the source password there; never empty.
    """

    url: str = setting(
        kind=Upstream(needsMount=True),
        help="The upstream mount's URL: `http://host:port/mount` or `https://…`.",
        doc="It must name a mount, so it cannot be just `/`. It cannot include a query, a fragment or credentials.",
    )
    user: str = setting("source", kind=User(), help="The source user on the upstream server.")
    password: str = setting(
        "",
        required=True,
        kind=Secret(hashable=False, emptyHint="the upstream's source password is required"),
        help="The source password on the upstream server.",
        doc='Or `{ file = "…" }` or `{ env = "NAME" }`; not a hash, since it is sent upstream.',
    )

    @property
    def mount(self) -> str:
        """
        The upstream mount the URL names.

        @return: its path, e.g. C{"/relay"} for
            C{http://icecast.example:8000/relay}.
        """
        return urlsplit(self.url).path or "/"


@dataclass(frozen=True, slots=True)
class MountConfig:
    """
    One mount: a C{[[mount]]} table.

    At most one of L{playlist} and L{relay} is set; a mount with neither is
    live-only and has L{live} set.  A mount with L{live} set has a
    L{sourcePassword}.

    @ivar path: the mount path, normalized, e.g. C{"/stream"}.
    @ivar name: the station's name (C{icy-name}).
    @ivar genre: its genre (C{icy-genre}).
    @ivar url: its home page (C{icy-url}).
    @ivar description: a sentence about it (C{icy-description}).
    @ivar public: whether directories may list it (C{icy-pub}).
    @ivar playlist: the absolute path of a music folder or a C{.m3u} or
        C{.m3u8} file to play, or L{None}.
    @ivar shuffle: whether the playlist plays in a random order.
    @ivar loudness: the loudness in LUFS the playlist's tracks are brought
        to, or L{None} to leave their levels alone.
    @ivar trimSilence: whether the playlist's tracks lose their silent ends.
    @ivar crossfade: seconds over which one playlist track fades into the
        next, or L{None} for clean cuts.
    @ivar relay: the upstream URL to relay, or L{None}.
    @ivar live: whether live source clients may broadcast to the mount.
    @ivar sourcePassword: the password they log in with (or its
        L{PasswordHash}), or L{None} when L{live} is not set.
    @ivar sourceUser: the user name they log in with.
    @ivar fallback: the path of the mount listeners hear when this one has
        nothing to play, or L{None}.
    @ivar maxListeners: the most listeners at once, or L{None} for no limit.
    @ivar metaint: audio bytes between metadata blocks.
    @ivar burstSize: bytes of recent audio a new listener receives at once.
    @ivar lagLimit: bytes a stalled listener may fall behind before it is
        dropped.
    @ivar push: where the mount is also pushed as a source, or L{None}.
    @ivar sampleRate: the sample rate listeners get, in Hz, or L{None} for
        the default (44100, or a derived mount's parent's).
    @ivar channels: the channels listeners get (1 or 2), or L{None} for the
        default (2, or a derived mount's parent's).
    @ivar bitrate: the bitrate listeners get, in kbps, or L{None} for any
        (a derived mount always sets one).
    @ivar formatPolicy: what happens to audio of another format:
        C{"transcode"}, C{"skip"}, or L{None} for the default (transcode when
        ffmpeg can be found, else skip).
    @ivar deriveFrom: the path of the mount this one re-encodes at
        L{bitrate}, or L{None}.
    @ivar hls: whether the mount is also served as HLS (when L{HLSConfig}
        has it on).
    @ivar icyStatus: whether listeners are answered C{ICY 200 OK} instead
        of C{HTTP/1.0 200 OK}.
    @ivar maxListenerDuration: seconds a listener may stay, 0 for no limit,
        or L{None} for the server's
        (L{txradio.config.ServerConfig.maxListenerDuration}).
    @ivar intro: the absolute path of an audio file each new listener
        hears before the stream, or L{None}.
    @ivar record: whether live shows are recorded (see docs/shows.md).
    @ivar recordingsDir: the folder whose C{MOUNT} subfolder holds them, or
        L{None} for C{[server] recordings_dir}.
    @ivar recordingsKeep: finished recordings kept.
    @ivar recordingsMaxAgeDays: days a recording is kept, or L{None}.
    @ivar recordMaxSeconds: the longest part of a recording, in seconds.
    @ivar recordMaxMegabytes: the largest part, in MiB.
    """

    path: str = setting(
        kind=MountPath(),
        help="The path listeners tune into.",
        doc='`"stream"`, `"/stream"` and `"/stream/"` all mean `/stream`. Only printable ASCII, without `?`, '
        "`#`, `%`, spaces, `.` or `..` segments, not ending in `.m3u`, `.m3u8`, `.pls` or `.xspf`. Two mounts "
        "cannot have the same path.",
        option="mount",
    )
    name: str = setting("txradio", kind=Text(), help="The station's name (icy-name).", option="name")
    genre: str = setting("", kind=Text(), help="The station's genre (icy-genre).", option="genre")
    url: str = setting("", kind=Text(), help="The station's home page (icy-url).", option="url")
    description: str = setting(
        "", kind=Text(), help="A sentence about the station (icy-description).", option="description"
    )
    public: bool = setting(
        False, kind=Flag(), help="Let stream directories list the station (icy-pub: 1).", option="public"
    )
    playlist: str | None = setting(
        None,
        kind=Playlist(),
        help="The folder of MP3 files to play (searched recursively), or an .m3u/.m3u8 playlist.",
        doc="A relative path is read from the configuration file's folder, and `~` means your home folder. It "
        "must exist when the configuration is loaded. On the command line it must hold MP3 files, and the "
        "built-in demo playlist plays without it.",
        option="music-dir",
        short="m",
    )
    shuffle: bool = setting(
        False,
        kind=Flag(),
        help="Play the playlist in a random order (a new one each pass).",
        doc="Only on a mount with a `playlist`.",
        option="shuffle",
        short="s",
    )
    loudness: float | None = setting(
        None,
        kind=Level(-30.0, -5.0, "LUFS"),
        help="Even the playlist's loudness to this target (e.g. -16), losslessly, in 1.5 dB steps.",
        doc="It applies to the mount's `playlist`, not to relays or live sources. Each track is measured once in the background (ffmpeg's "
        "`ebur128`, or its ReplayGain tags) and its MP3 frames' `global_gain` changed, capped so its true "
        "peak stays under -1 dBTP; a track not yet measured plays unchanged. Needs ffmpeg unless every "
        'track has ReplayGain tags. See "Even loudness and silence trimming" in docs/programming.md.',
        option="loudness",
        shown="off",
    )
    trimSilence: bool = setting(
        False,
        kind=Flag(),
        help="Drop the silence at the start and end of each playlist track (cue in and out).",
        doc="It applies to the mount's `playlist`. Silence is below -50 dB for at least 0.3 s, found by ffmpeg "
        "in the same background measurement as `loudness`; it is dropped a frame at a time.",
        option="trim-silence",
    )
    crossfade: float | None = setting(
        None,
        kind=Seconds(MAX_CROSSFADE),
        help="Fade each playlist track into the next over this many seconds (e.g. 3).",
        doc="It applies to the mount's `playlist`, and to its blocks and jingles (the programme clock then chooses "
        "each next track a few seconds ahead; a block starting hard still cuts cleanly, on time). Only the seam is re-encoded: ffmpeg mixes the end of one track "
        "with the start of the next in a child process while the first plays, and the rest of both tracks "
        "passes through as their own frames. The tracks are measured as for `loudness` (at unity gain when "
        "`loudness` is off), so it needs ffmpeg; a seam not ready in time, a track under three times the "
        'crossfade, or a first track not yet measured gives a clean cut. See "Crossfades" in docs/programming.md.',
        option="crossfade",
        shown="off",
    )
    relay: str | None = setting(
        None,
        kind=Upstream(needsMount=False),
        help="The `http://` or `https://` URL of another server's stream to relay.",
        doc='Such as `"http://origin.example.org:8000/stream"`, from Icecast, SHOUTcast or another txradio. It '
        "cannot include credentials or a `#fragment`.",
    )
    live: bool = setting(
        False,
        kind=Flag(),
        help="Accept live source clients: Icecast PUT and SOURCE, or SHOUTcast v1 through shoutcast_source_listen.",
    )
    djQueue: bool | None = setting(
        None,
        kind=Flag(),
        help="Hold a DJ who logs in while another source is on this mount, and hand it over when the first leaves.",
        doc="Overrides `[server] dj_queue` for this mount. See docs/shows.md, Hand-over.",
        shown="`[server] dj_queue`",
    )
    sourcePassword: str | PasswordHash | None = setting(
        None,
        kind=Secret(hashable=True, emptyHint="there is no default"),
        help="The password live source clients must give.",
        doc="Required when `live = true`, because there is no default password; an error without it. Or "
        '`{ file = "…" }`, `{ env = "NAME" }` or `{ hash = "scrypt$…" }`; see "Secrets" below.',
    )
    sourceUser: str = setting(
        "source",
        kind=User(),
        help="The user name live source clients must give.",
        doc="An error without `live = true`.",
    )
    fallback: str | None = setting(
        None,
        kind=MountPath(),
        help="Another mount of this file, heard while this one has nothing to play.",
        doc="A live-only mount with no source connected, or a relay whose origin is down. Listeners stay "
        "connected through every switch.",
    )
    maxListeners: int | None = setting(
        None,
        kind=Integer(1, None, "listeners"),
        help="The most listeners at once; listeners beyond it get 503.",
        shown="no limit",
    )
    metaint: int = setting(
        DEFAULT_METAINT,
        kind=Integer(1, MAX_METAINT, "bytes"),
        help="Audio bytes between ICY metadata blocks.",
        option="metaint",
    )
    burstSize: int = setting(
        DEFAULT_BURST,
        kind=Integer(0, MAX_BURST, "bytes"),
        help="Recent audio a new listener receives at once, so that playback starts quickly.",
        option="burst-size",
    )
    lagLimit: int = setting(
        DEFAULT_LAG_LIMIT,
        kind=Integer(MIN_LAG_LIMIT, None, "bytes"),
        help="How far a stalled listener can fall behind before it is dropped.",
    )
    push: PushConfig | None = setting(  # noqa: RUF009 - a field, like the others
        None,
        kind=SubTable(PushConfig, 'push = { url = "http://host:8000/mount", password = "…" }'),
        help="Also send this mount to an upstream Icecast server as its source; see push below.",
    )
    sampleRate: int | None = setting(
        None,
        kind=Among(SAMPLE_RATES, f"one of {', '.join(map(str, SAMPLE_RATES))} (Hz)", "Hz"),
        help="The sample rate listeners get.",
        doc='A derived mount takes its parent\'s. See "Formats" below.',
        shown="`44100`",
    )
    channels: int | None = setting(
        None,
        kind=Among((1, 2), "1 (mono) or 2 (stereo)"),
        help="The channels listeners get.",
        doc="A derived mount takes its parent's.",
        shown="`2`",
    )
    bitrate: int | None = setting(
        None,
        kind=Among(BITRATES, f"one of {', '.join(map(str, BITRATES))} (kbps)", "kbps"),
        help="The bitrate listeners get.",
        doc="Leave it out to pass any bitrate (VBR included) that has the right sample rate and channels. "
        "Required on a derived mount.",
        shown="any",
    )
    formatPolicy: str | None = setting(
        None,
        kind=Choice(POLICIES),
        help="What to do with audio of another format: transcode (needs ffmpeg) or skip.",
        doc='`"transcode"` re-encodes it with ffmpeg; `"skip"` skips the track (one log line) and refuses the '
        'live source (415). Setting `"transcode"` makes ffmpeg required at startup. Not allowed on a derived '
        "mount.",
        option="format-policy",
        shown='`"transcode"` with ffmpeg, else `"skip"`',
    )
    deriveFrom: str | None = setting(
        None,
        kind=MountPath(),
        help="Another mount whose programme this one plays re-encoded at its bitrate.",
        doc="Same titles, same track boundaries. It has no `playlist`, `relay` or `live` of its own. Needs ffmpeg.",
    )
    hls: bool = setting(
        True,
        kind=Flag(),
        help="Also serve this mount as HLS (/MOUNT.m3u8), when [hls] has it on.",
        doc="`false` leaves this mount ICY only, and out of its family's master playlist.",
    )
    icyStatus: bool = setting(
        False,
        kind=Flag(),
        help="Answer listeners with 'ICY 200 OK' instead of 'HTTP/1.0 200 OK', for very old clients.",
        option="icy-status",
    )
    maxListenerDuration: int | None = setting(
        None,
        kind=Integer(0, MAX_LISTENER_DURATION, "seconds"),
        help="Seconds a listener may stay before it is disconnected (Icecast's max-listener-duration); 0: no limit.",
        doc="Overrides `[server] max_listener_duration` for this mount. Counted from the listener's first byte, "
        "intro included. A reload applies a new value to listeners who join after it.",
        shown="`[server] max_listener_duration`",
    )
    intro: str | None = setting(
        None,
        kind=IntroFile(),
        help="An audio file each new listener hears before joining the stream (Icecast's intro).",
        doc="Read when the server starts and on each reload. In the mount's format it plays as it is; in "
        "another (an MP3 at another sample rate, a WAV…) ffmpeg converts it once in the background, and "
        "without ffmpeg the configuration is refused. At most 1 MiB and 60 s of it is sent. HLS listeners get "
        'no intro. See "Intros" below.',
        shown="none",
    )
    allowIp: tuple[str, ...] | None = setting(
        None,
        kind=Networks(),
        help='Only these addresses and networks may listen (IPv4 and IPv6, e.g. `"10.0.0.0/8"`); 403 for others.',
        doc="Replaces the server's `allow_ip` for this mount; `[]` allows everyone. See docs/security.md.",
        shown="the server's",
    )
    denyIp: tuple[str, ...] | None = setting(
        None,
        kind=Networks(),
        help="These addresses and networks may not listen (403); deny wins over allow.",
        doc="Replaces the server's `deny_ip` for this mount.",
        shown="the server's",
    )
    denyUserAgents: tuple[str, ...] | None = setting(
        None,
        kind=AgentPatterns(),
        help="Players that may not listen (403): case-insensitive substrings, or `re:` regular expressions.",
        doc="Replaces the server's `deny_user_agents` for this mount.",
        shown="the server's",
    )
    htpasswd: str | None = setting(
        None,
        kind=PasswordPath(),
        help="An htpasswd file: listeners log in with HTTP Basic (401 otherwise).",
        doc="Replaces the server's. Read at start and on every reload. Hashes: `{SHA}`, `$pbkdf2-sha256$`, "
        "`$pbkdf2-sha512$`; make a line with `txradio htpasswd USER`.",
        shown="the server's",
    )
    tokenSecret: str | None = setting(
        None,
        # The HMAC needs the secret itself: it may come from a file or the
        # environment, never as a hash.
        kind=Secret(hashable=False, emptyHint="leave it out for a mount without signed links"),
        help="A secret: listeners need a signed, expiring link (`?expires=…&token=…`); 403 otherwise.",
        doc="Make links with `txradio sign-url`, or `txradio.net.access` in Python. A listener is disconnected "
        "when its link expires.",
    )
    tokenBindAddress: bool = setting(
        False,
        kind=Flag(),
        help="Signed links name the one client address that may use them.",
        doc="Only with `token_secret`; sign with `txradio sign-url --address`.",
    )
    listenerAuthUrl: str | None = setting(
        None,
        kind=HookURL(),
        help="Icecast's URL authentication: each new listener is POSTed there (listener_add) and admitted on "
        "`icecast-auth-user: 1`.",
        doc="Replaces the server's. Leaving listeners are POSTed as listener_remove. Not applied to HLS.",
        shown="the server's",
    )

    record: bool = setting(
        False,
        kind=Flag(),
        help="Record every live show (from a source's connect to its leave) with a cue sheet, and publish them "
        "as a podcast at /MOUNT/shows.rss.",
        doc="The very frames listeners got, no re-encode. Needs `recordings_dir` here or in `[server]`. "
        "See docs/shows.md.",
    )
    recordingsDir: str | None = setting(
        None,
        kind=Folder(),
        help="The folder whose MOUNT subfolder holds this mount's recordings.",
        doc="It must exist; the subfolder is made when needed.",
        shown="`[server] recordings_dir`",
    )
    recordingsKeep: int = setting(
        50,
        kind=Integer(1, MAX_RECORDINGS_KEPT, "recordings"),
        help="Finished recordings kept; older ones are deleted when a recording finishes and at start.",
    )
    recordingsMaxAgeDays: int | None = setting(
        None,
        kind=Integer(1, 36500, "days"),
        help="Days a recording is kept before it is deleted.",
        shown="no limit",
    )
    recordMaxSeconds: int = setting(
        4 * 3600,
        kind=Integer(60, MAX_RECORDING_SECONDS, "seconds"),
        help="The longest file of a recording; a longer show goes on in a new part (NAME-part2.mp3).",
    )
    recordMaxMegabytes: int = setting(
        512,
        kind=Integer(1, MAX_RECORDING_MEGABYTES, "MiB"),
        help="The largest file of a recording; a larger show goes on in a new part.",
    )
    blocks: tuple[BlockConfig, ...] = setting(
        (),
        key="block",
        kind=SubTables(BlockConfig, '[[mount.block]] when = "Mon-Fri 06:00-10:00"'),
        help="The programme clock: timed blocks, each playing its own folder or playlist; see block below.",
        doc="The mount's `playlist` plays outside every block. See docs/programming.md.",
        shown="none",
    )
    jingles: JinglesConfig | None = setting(  # noqa: RUF009 - a field, like the others
        None,
        kind=SubTable(JinglesConfig, '[mount.jingles] folder = "jingles"'),
        help="Jingles and station IDs between tracks; see jingles below.",
    )
    requests: bool = setting(
        False,
        kind=Flag(),
        help="Take listeners' requests (`POST /api/v1/requests`) for songs of the library, played at the next track change.",
        doc='Only on a mount with a `playlist`; the rules are `[server.requests]`. See "Listener requests" in docs/programming.md.',
    )

    @property
    def audioFormat(self) -> AudioFormat:
        """
        The format the mount's listeners get, defaults filled in (a derived
        mount's parent's sample rate and channels are filled in by
        L{txradio.config.parseConfig}).

        @return: the format.
        """
        return AudioFormat(self.sampleRate or 44100, self.channels or 2, self.bitrate)

    @property
    def kind(self) -> str:
        """
        What the mount plays of its own.

        @return: C{"playlist"}, C{"relay"}, C{"derived"} for a mount that
            re-encodes another, or C{"live"} for a live-only mount.  A mount
            with a playlist or relay may also take live sources (L{live});
            its kind still names the programme.
        """
        if self.deriveFrom is not None:
            return "derived"
        if self.playlist is not None:
            return "playlist"
        if self.relay is not None:
            return "relay"
        return "live"


TEMPLATE_KEYS = (
    "name",
    "genre",
    "url",
    "description",
    "public",
    "fallback",
    "max_listeners",
    "metaint",
    "burst_size",
    "lag_limit",
    "sample_rate",
    "channels",
    "bitrate",
    "format_policy",
    "hls",
    "icy_status",
    "source_password",
    "source_user",
)
"""
The C{[[mount]]} keys C{[mount_template]} may set (Icecast's C{<mount
type="default">}): each means what it means on a mount, and is declared
once, on L{MountConfig}.
"""


@dataclass(frozen=True, slots=True)
class MountTemplate:
    """
    What a mount made by a source client gets: the C{[mount_template]}
    table, its settings checked as a mount's.

    @ivar settings: C{(field name, value)} pairs of the settings the table
        gives; the others take a mount's defaults.
    """

    settings: tuple[tuple[str, Any], ...] = ()

    def _get(self, name: str) -> Any:
        return dict(self.settings).get(name)

    @property
    def sourcePassword(self) -> str | None:
        """
        @return: the template's own source password, or L{None} (then the
            global one applies).
        """
        value: str | None = self._get("sourcePassword")
        return value

    @property
    def sourceUser(self) -> str | None:
        """
        @return: the template's source user, or L{None}.
        """
        value: str | None = self._get("sourceUser")
        return value

    @property
    def fallback(self) -> str | None:
        """
        @return: the configured mount dynamic mounts fall back to, or L{None}.
        """
        value: str | None = self._get("fallback")
        return value

    def mountFor(self, path: str, password: str | PasswordHash, user: str) -> MountConfig:
        """
        The settings of one dynamic mount.

        @param path: its normalized path.
        @param password: the global source password (the template's own wins).
        @param user: the global source user (the template's own wins).
        @return: a live-only L{MountConfig}.
        """
        values = dict(self.settings)
        values.setdefault("sourcePassword", password)
        values.setdefault("sourceUser", user)
        return MountConfig(path=path, live=True, **values)
