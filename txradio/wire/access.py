# -*- test-case-name: tests.test_access -*-
"""
The pure parts of listener access control: address lists, user-agent bans,
signed listen URLs, htpasswd files and the forms of Icecast's URL
authentication.  Plain functions and frozen values on the standard library:
nothing here touches a transport, a clock or a file.

The checks themselves (which run in what order, what a refusal answers) are
in L{txradio.net.access}.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import parse_qs, urlencode

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_NETWORKS = 10000
"""The most networks one allow or deny list may hold (a longer list is a
configuration error: it would be checked for every request)."""

MAX_AGENT_PATTERNS = 100
"""The most user-agent bans one list may hold."""

MAX_AGENT_PATTERN = 200
"""The longest user-agent ban, in characters (a regular expression is then
small enough that matching it against the 200 characters of a user agent
kept by L{txradio.wire.request.RequestHead.userAgent} stays cheap)."""

REGEX_PREFIX = "re:"
"""A user-agent ban starting with this is a regular expression; any other
is a substring.  Both are matched case-insensitively."""

MAX_HTPASSWD_BYTES = 1 << 20
"""The largest htpasswd file read, in bytes (1 MiB: about ten thousand
users)."""

MAX_PBKDF2_ROUNDS = 2_000_000
"""The most PBKDF2 rounds a stored hash may ask for: a file cannot make one
login cost more than about a second."""

TOKEN_BYTES = 32
"""The length of a listen token, in bytes (an HMAC-SHA256), 64 hex digits."""

MAX_TOKEN_LIFETIME = 10 * 365 * 86400
"""The furthest in the future a token may expire, in seconds (ten years);
an C{expires} beyond is refused as malformed."""


def parseNetworks(texts: Iterable[str]) -> tuple[Network, ...]:
    """
    Read a list of addresses and networks.

    @param texts: e.g. C{["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]}; a
        bare address is a network of one, host bits set are allowed (C{"10.1.2.3/8"}
        means C{10.0.0.0/8}).
    @return: the networks.
    @raise ValueError: for text that is not an address or network, naming
        it, or for more than L{MAX_NETWORKS}.
    """
    networks = []
    for text in texts:
        try:
            networks.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{text[:60]!r} is not an IP address or network (such as 10.0.0.0/8 or 2001:db8::/32)") from None
        if len(networks) > MAX_NETWORKS:
            raise ValueError(f"a list may hold at most {MAX_NETWORKS} networks")
    return tuple(networks)


def parseAddress(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """
    Read a peer's address as a check compares it.

    An IPv4-mapped IPv6 address (C{::ffff:192.0.2.7}, what a dual-stack
    socket reports for an IPv4 client) is read as the IPv4 address, and an
    IPv6 zone (C{%eth0}) is dropped.

    @param text: the address, e.g. C{"192.0.2.7"} or C{"::ffff:192.0.2.7"}.
    @return: the address, or L{None} when the text is not one (a UNIX
        socket's peer).
    """
    try:
        address = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True, slots=True)
class AddressRules:
    """
    Allow and deny lists of networks.  Deny wins; a non-empty allow list
    admits only the addresses in it.

    @ivar allow: the networks allowed; empty allows every address not denied.
    @ivar deny: the networks denied.
    """

    allow: tuple[Network, ...] = ()
    deny: tuple[Network, ...] = ()

    def permits(self, address: str) -> bool:
        """
        Tell whether an address may connect.

        @param address: the peer's address as text (see L{parseAddress}).
        @return: L{False} when it is denied, or an allow list exists and it
            is not in it.  An address that is not IP (a UNIX socket) is
            permitted only when there is no allow list.
        """
        parsed = parseAddress(address)
        if parsed is None:
            return not self.allow
        if any(parsed in network for network in self.deny):
            return False
        return not self.allow or any(parsed in network for network in self.allow)


def _compileBan(text: str) -> str | re.Pattern[str]:
    """
    @param text: one ban (see L{REGEX_PREFIX}).
    @return: a lower-cased substring, or a compiled case-insensitive pattern.
    @raise ValueError: for an empty, too long or invalid ban.
    """
    if not text or len(text) > MAX_AGENT_PATTERN:
        raise ValueError(f"a user-agent ban must have 1 to {MAX_AGENT_PATTERN} characters")
    if text.startswith(REGEX_PREFIX):
        try:
            return re.compile(text[len(REGEX_PREFIX):], re.IGNORECASE)
        except re.error as error:
            raise ValueError(f"{text[:60]!r} is not a regular expression: {error}") from None
    return text.lower()


@dataclass(frozen=True, slots=True)
class AgentBans:
    """
    User agents refused: case-insensitive substrings, or regular
    expressions (written C{"re:…"}).

    @ivar patterns: the bans as written.
    """

    patterns: tuple[str, ...] = ()
    _compiled: tuple[str | re.Pattern[str], ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.patterns) > MAX_AGENT_PATTERNS:
            raise ValueError(f"at most {MAX_AGENT_PATTERNS} user-agent bans")
        object.__setattr__(self, "_compiled", tuple(_compileBan(text) for text in self.patterns))

    def banned(self, userAgent: str) -> bool:
        """
        Tell whether a user agent is banned.

        @param userAgent: the request's user agent (at most 200 characters,
            as L{txradio.wire.request.RequestHead.userAgent} keeps it; longer
            text is cut to that here too).
        @return: L{True} when one ban matches.
        """
        agent = userAgent[:200]
        lowered = agent.lower()
        for ban in self._compiled:
            if isinstance(ban, str):
                if ban in lowered:
                    return True
            elif ban.search(agent) is not None:
                return True
        return False


# Signed listen URLs.


class TokenCheck(Enum):
    """
    What a listen URL's token says.
    """

    VALID = "valid"
    MISSING = "missing"
    MALFORMED = "malformed"
    BAD = "bad"
    EXPIRED = "expired"


def tokenMessage(mount: str, expires: int, address: str | None = None) -> bytes:
    """
    The text a listen token signs.

    @param mount: the mount path, e.g. C{"/private"}.
    @param expires: when the URL stops working, in seconds since the epoch.
    @param address: the one client address it is for, or L{None} for any.
    @return: C{mount "\\n" expires}, then C{"\\n" address} when bound.
    """
    text = f"{mount}\n{int(expires)}"
    if address is not None:
        text += f"\n{address}"
    return text.encode("utf-8")


def signToken(secret: str | bytes, mount: str, expires: int, address: str | None = None) -> str:
    """
    Make a listen token.

    @param secret: the mount's C{token_secret}.
    @param mount: the mount path.
    @param expires: seconds since the epoch.
    @param address: the client address to bind it to, or L{None}.
    @return: HMAC-SHA256(secret, L{tokenMessage}) in lower-case hex.
    """
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(key, tokenMessage(mount, expires, address), hashlib.sha256).hexdigest()


def signedQuery(secret: str | bytes, mount: str, expires: int, address: str | None = None) -> str:
    """
    The query string of a signed listen URL.

    @param secret: the mount's C{token_secret}.
    @param mount: the mount path.
    @param expires: seconds since the epoch.
    @param address: the client address to bind it to, or L{None}.
    @return: e.g. C{"expires=1767225600&token=3f…"}.
    """
    return urlencode({"expires": str(int(expires)), "token": signToken(secret, mount, expires, address)})


def readToken(query: bytes) -> tuple[int, bytes] | None:
    """
    Find the C{expires} and C{token} of a listen URL's query.

    @param query: the raw query, without C{"?"}.
    @return: C{(expires, token)}, or L{None} when either is absent; an
        unreadable one gives C{(-1, b"")}.
    """
    try:
        fields = parse_qs(query.decode("ascii"), max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        return (-1, b"")
    expires, token = fields.get("expires"), fields.get("token")
    if not expires or not token:
        return None
    text = expires[0]
    if not text.isdigit() or len(text) > 12 or len(token[0]) != 2 * TOKEN_BYTES:
        return (-1, b"")
    return int(text), token[0].lower().encode("ascii", "replace")


def checkToken(
    secret: str | bytes, mount: str, query: bytes, now: float, address: str | None = None
) -> TokenCheck:
    """
    Check a listen URL's token, in constant time.

    @param secret: the mount's C{token_secret}.
    @param mount: the mount path.
    @param query: the request's raw query.
    @param now: the time, in seconds since the epoch.
    @param address: the client's address when tokens are bound to one,
        else L{None}.
    @return: L{TokenCheck.VALID}, or why not.  A signature is checked before
        the expiry, so an expired token and a forged one are told apart only
        for real tokens.
    """
    found = readToken(query)
    if found is None:
        return TokenCheck.MISSING
    expires, token = found
    if expires < 0 or expires > now + MAX_TOKEN_LIFETIME:
        return TokenCheck.MALFORMED
    expected = signToken(secret, mount, expires, address).encode("ascii")
    if not hmac.compare_digest(expected, token):
        return TokenCheck.BAD
    if expires <= now:
        return TokenCheck.EXPIRED
    return TokenCheck.VALID


def tokenExpiry(query: bytes) -> int | None:
    """
    @param query: a request's raw query.
    @return: the C{expires} it carries, or L{None}.
    """
    found = readToken(query)
    return found[0] if found is not None and found[0] >= 0 else None


# htpasswd files.

HASH_FORMATS = ("{SHA}", "$pbkdf2-sha256$", "$pbkdf2-sha512$")
"""The password hash formats an htpasswd file may use here."""


def _ab64decode(text: str) -> bytes:
    """
    Decode passlib's "adapted base64" (C{.} for C{+}, no padding).

    @param text: the encoded text.
    @return: the bytes.
    @raise ValueError: when it is not base64.
    """
    text = text.replace(".", "+")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None


def _ab64encode(data: bytes) -> str:
    """
    @param data: bytes.
    @return: passlib's adapted base64 of them.
    """
    return base64.b64encode(data).decode("ascii").rstrip("=").replace("+", ".")


def checkHashFormat(stored: str) -> None:
    """
    Check that a stored hash is one this module verifies.

    @param stored: the hash as the file holds it.
    @raise ValueError: saying which formats are accepted.
    """
    if stored.startswith("{SHA}"):
        if len(_b64(stored[5:])) != 20:
            raise ValueError("a {SHA} hash is 20 bytes in base64")
        return
    for name in ("sha256", "sha512"):
        prefix = f"$pbkdf2-{name}$"
        if stored.startswith(prefix):
            parts = stored[len(prefix):].split("$")
            if len(parts) != 3 or not parts[0].isdigit() or not 1 <= int(parts[0]) <= MAX_PBKDF2_ROUNDS:
                raise ValueError(f"a {prefix} hash is {prefix}ROUNDS$SALT$HASH with at most {MAX_PBKDF2_ROUNDS} rounds")
            _ab64decode(parts[1])
            _ab64decode(parts[2])
            return
    raise ValueError(
        "uses a hash format txradio cannot check (it accepts {SHA}, $pbkdf2-sha256$ and $pbkdf2-sha512$; "
        "make one with `txradio htpasswd USER`)"
    )


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        return b""


def verifyPassword(password: str, stored: str) -> bool:
    """
    Check a password against a stored hash, comparing in constant time.

    @param password: what the client sent.
    @param stored: a hash in one of L{HASH_FORMATS}.
    @return: L{True} when it matches; L{False} for a wrong password or a
        hash of another format.
    """
    given = password.encode("utf-8")
    if stored.startswith("{SHA}"):
        expected = _b64(stored[5:])
        return len(expected) == 20 and hmac.compare_digest(hashlib.sha1(given).digest(), expected)  # noqa: S324 - the format is SHA-1
    for name in ("sha256", "sha512"):
        prefix = f"$pbkdf2-{name}$"
        if stored.startswith(prefix):
            try:
                checkHashFormat(stored)
                rounds, salt, digest = stored[len(prefix):].split("$")
                expected = _ab64decode(digest)
                actual = hashlib.pbkdf2_hmac(name, given, _ab64decode(salt), int(rounds), len(expected))
            except ValueError:
                return False
            return hmac.compare_digest(actual, expected)
    return False


def hashPassword(password: str, salt: bytes, rounds: int = 600_000) -> str:
    """
    Hash a password for an htpasswd file (the format passlib writes).

    @param password: the password.
    @param salt: random bytes (16 are plenty).
    @param rounds: PBKDF2 iterations.
    @return: C{$pbkdf2-sha256$ROUNDS$SALT$HASH}.
    """
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, rounds)
    return f"$pbkdf2-sha256${rounds}${_ab64encode(salt)}${_ab64encode(digest)}"


def parseHtpasswd(text: str) -> tuple[dict[str, str], list[str]]:
    """
    Read an htpasswd file's text: C{user:hash} lines; blank lines and
    C{#} comments are skipped.

    @param text: the file's contents.
    @return: the users and their hashes, and one problem per line refused
        (a line without a colon, or a hash format not in L{HASH_FORMATS}),
        naming its number but never its hash.
    """
    users: dict[str, str] = {}
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, colon, stored = line.partition(":")
        if not colon or not user:
            problems.append(f"line {number}: not user:hash")
            continue
        try:
            checkHashFormat(stored)
        except ValueError as error:
            problems.append(f"line {number} (user {user[:60]!r}) {error}")
            continue
        users[user] = stored
    return users, problems


# Icecast's URL authentication.

AUTH_HEADER = b"icecast-auth-user"
"""The answer header that admits a listener when it is C{1}."""

MESSAGE_HEADER = b"icecast-auth-message"
"""The answer header with a message for the refused listener."""

TIMELIMIT_HEADER = b"icecast-auth-timelimit"
"""The answer header limiting the listener's session, in seconds."""

MAX_AUTH_MESSAGE = 200
"""The most characters of an C{icecast-auth-message} kept."""

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def listenerAddForm(
    server: str, port: int, client: int, mount: str, user: str, password: str, ip: str, agent: str
) -> bytes:
    """
    The body of a C{listener_add} POST, with Icecast's field names.

    @param server: the server's host name.
    @param port: its port.
    @param client: the listener's connection number.
    @param mount: the mount asked for.
    @param user: the Basic user name the listener gave, or C{""}.
    @param password: its password, or C{""}.
    @param ip: the listener's address.
    @param agent: its user agent.
    @return: C{application/x-www-form-urlencoded} bytes.
    """
    return _listenerForm("listener_add", server, port, client, mount, user, password, ip) + b"&" + urlencode(
        [("agent", agent)]
    ).encode("ascii")


def listenerRemoveForm(
    server: str, port: int, client: int, mount: str, user: str, password: str, ip: str, duration: float
) -> bytes:
    """
    The body of a C{listener_remove} POST, with Icecast's field names.

    @param duration: how long the listener listened, in seconds (rounded
        down to whole seconds, as Icecast sends it).
    @return: form-encoded bytes; see L{listenerAddForm} for the others.
    """
    return _listenerForm("listener_remove", server, port, client, mount, user, password, ip) + b"&" + urlencode(
        [("duration", str(max(0, int(duration))))]
    ).encode("ascii")


def _listenerForm(
    action: str, server: str, port: int, client: int, mount: str, user: str, password: str, ip: str
) -> bytes:
    """
    The fields Icecast's C{listener_add} and C{listener_remove} share, in
    its order.

    @param action: C{"listener_add"} or C{"listener_remove"}.
    @return: form-encoded bytes; see L{listenerAddForm} for the others.
    """
    return urlencode(
        [
            ("action", action),
            ("server", server),
            ("port", str(port)),
            ("client", str(client)),
            ("mount", mount),
            ("user", user),
            ("pass", password),
            ("ip", ip),
        ]
    ).encode("ascii")


@dataclass(frozen=True, slots=True)
class AuthAnswer:
    """
    What an authentication server answered.

    @ivar admitted: whether it sent C{icecast-auth-user: 1}.
    @ivar message: its C{icecast-auth-message}, cleaned, or C{""}.
    @ivar timeLimit: its C{icecast-auth-timelimit} in seconds, or L{None}.
    """

    admitted: bool
    message: str = ""
    timeLimit: int | None = None


def readAuthAnswer(headers: Mapping[bytes, Sequence[bytes]]) -> AuthAnswer:
    """
    Read an authentication server's answer headers.

    @param headers: header names (any case) to their values.
    @return: the answer; anything but C{1} in C{icecast-auth-user} refuses,
        and a time limit that is not a whole number is ignored.
    """
    lowered = {name.lower(): values for name, values in headers.items()}
    values = lowered.get(AUTH_HEADER, ())
    admitted = bool(values) and values[0].strip() == b"1"
    messages = lowered.get(MESSAGE_HEADER, ())
    message = _CONTROL.sub("", messages[0].decode("utf-8", "replace")).strip()[:MAX_AUTH_MESSAGE] if messages else ""
    limits = lowered.get(TIMELIMIT_HEADER, ())
    limit = None
    if limits:
        text = limits[0].strip()
        if text.isdigit() and len(text) <= 9:
            limit = int(text)
    return AuthAnswer(admitted, message, limit)


def signURL(base: str, mount: str, secret: str | bytes, expires: int, address: str | None = None) -> str:
    """
    Make a signed, expiring listen URL: the function for embedders (and
    C{txradio sign-url}).

    @param base: the server's base URL, e.g. C{"https://radio.example.org"}
        (a trailing C{/} is dropped).
    @param mount: the mount path, e.g. C{"/private"}.
    @param secret: the mount's C{token_secret}.
    @param expires: when the link stops working, in seconds since the
        epoch (e.g. C{int(time.time()) + 3600}).
    @param address: the one client address that may use it, for a mount
        with C{token_bind_address}; else L{None}.
    @return: e.g. C{"https://radio.example.org/private?expires=…&token=…"}.
    """
    return f"{base.rstrip('/')}{mount}?{signedQuery(secret, mount, expires, address)}"
