# -*- test-case-name: tests.test_passwordhash -*-
"""
Hashed passwords: a password the server verifies without storing it.

The format is self-describing and made only of the standard library's
C{hashlib.scrypt}::

    scrypt$N$r$p$SALT$HASH

with C{N} (CPU/memory cost, a power of two), C{r} (block size) and C{p}
(parallelism) in decimal, and C{SALT} (16 bytes) and C{HASH} (32 bytes) in
lowercase hexadecimal.  L{hashPassword} makes one (C{txradio
hash-password}); L{PasswordHash.parse} reads one; L{PasswordHash.matches}
checks a candidate in constant time.

Cost: verification runs in the reactor thread (the callers are synchronous
resource and protocol methods), so it blocks the reactor for as long as one
hash takes.  The parameters L{hashPassword} writes, C{N = 2**14, r = 8,
p = 1} (16 MiB), take about 20–50 ms on current hardware.  An attacker can
make the server hash only as often as the failed-login throttle lets them
try, and a correct password is remembered (as a keyed digest, see
L{PasswordHash.matches}) so that an encoder or an admin page sending it
again costs no further hash.  L{PasswordHash.parse} refuses parameters that
would need more than L{MAX_MEMORY} bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass, field

SCHEME = "scrypt"
"""The first field of every hash."""

DEFAULT_N = 1 << 14
"""The CPU/memory cost L{hashPassword} uses (16 MiB with C{r = 8})."""

DEFAULT_R = 8
"""The block size L{hashPassword} uses."""

DEFAULT_P = 1
"""The parallelism L{hashPassword} uses."""

SALT_SIZE = 16
"""Bytes of random salt per hash."""

HASH_SIZE = 32
"""Bytes of derived key stored."""

MAX_MEMORY = 64 << 20
"""The most memory (C{128 × N × r × p} bytes) a hash may ask for: it bounds
how long one verification can block the reactor (about four times the
default's cost)."""

_FORMAT = re.compile(
    r"scrypt\$([0-9]{1,10})\$([0-9]{1,4})\$([0-9]{1,4})\$((?:[0-9a-f]{2}){8,64})\$((?:[0-9a-f]{2}){16,64})"
)

_KEY = os.urandom(32)
"""A per-process key for remembering verified passwords as digests."""


def _derive(password: str, salt: bytes, n: int, r: int, p: int, size: int) -> bytes:
    """
    @return: scrypt's derived key for a password.
    """
    # maxmem: OpenSSL's default (32 MiB) is below what MAX_MEMORY allows.
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=MAX_MEMORY + (1 << 20), dklen=size
    )


@dataclass(frozen=True)
class PasswordHash:
    """
    A hashed password.

    @ivar n: the CPU/memory cost, a power of two.
    @ivar r: the block size.
    @ivar p: the parallelism.
    @ivar salt: the salt.
    @ivar digest: the derived key.
    """

    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes
    # The keyed digest of the last password that matched, so that a client
    # sending it again is checked without hashing; not part of the value.
    _verified: list[bytes] = field(default_factory=list, compare=False, repr=False, hash=False)

    @classmethod
    def parse(cls, text: str) -> PasswordHash:
        """
        Read a hash in the C{scrypt$N$r$p$SALT$HASH} format.

        @param text: the hash.
        @return: the hash.
        @raise ValueError: when it is not in the format or its parameters
            are out of bounds; the message says what is expected.
        """
        match = _FORMAT.fullmatch(text.strip())
        if match is None:
            raise ValueError(
                "is not a password hash: expected scrypt$N$r$p$SALT$HASH (hexadecimal salt and hash), as "
                "'txradio hash-password' prints"
            )
        n, r, p = (int(group) for group in match.groups()[:3])
        if n < 2 or n & (n - 1) or r < 1 or p < 1:
            raise ValueError(f"has bad scrypt parameters N={n} r={r} p={p}: N must be a power of two, r and p at least 1")
        if 128 * n * r * p > MAX_MEMORY:
            raise ValueError(f"asks for {128 * n * r * p} bytes of memory per check; the most allowed is {MAX_MEMORY}")
        salt, digest = (bytes.fromhex(group) for group in match.groups()[3:])
        return cls(n, r, p, salt, digest)

    def text(self) -> str:
        """
        @return: the hash in its written form.
        """
        return f"{SCHEME}${self.n}${self.r}${self.p}${self.salt.hex()}${self.digest.hex()}"

    def matches(self, candidate: str) -> bool:
        """
        Tell whether a password hashes to this one, in constant time.

        @param candidate: what a client sent.
        @return: L{True} when it matches.
        """
        keyed = hmac.new(_KEY, candidate.encode("utf-8"), hashlib.sha256).digest()
        if self._verified and hmac.compare_digest(keyed, self._verified[0]):
            return True
        try:
            derived = _derive(candidate, self.salt, self.n, self.r, self.p, len(self.digest))
        except (ValueError, MemoryError):
            return False
        if hmac.compare_digest(derived, self.digest):
            self._verified[:] = [keyed]
            return True
        return False

    def __bool__(self) -> bool:
        """
        A hash is always a configured password.
        """
        return True


def hashPassword(password: str, n: int = DEFAULT_N, r: int = DEFAULT_R, p: int = DEFAULT_P) -> PasswordHash:
    """
    Hash a password with a new random salt.

    @param password: the password.
    @param n: the CPU/memory cost.
    @param r: the block size.
    @param p: the parallelism.
    @return: its hash; C{hashPassword(x).text()} is what the configuration
        file holds.
    """
    salt = os.urandom(SALT_SIZE)
    return PasswordHash(n, r, p, salt, _derive(password, salt, n, r, p, HASH_SIZE))
