# -*- test-case-name: tests.test_fuzz_regressions,tests.test_source,tests.test_metadata -*-
"""
Credentials: HTTP Basic authorization headers and constant-time password
checks.  Pure functions, and L{PasswordHash}, a password the server can
verify without storing it.
"""

from __future__ import annotations

import binascii
import hmac

from txradio.wire.passwordhash import PasswordHash


def parseBasicAuth(value: bytes | None) -> tuple[str, str] | None:
    """
    Read an C{Authorization: Basic …} header.

    @param value: the header's value, or L{None} when absent.
    @return: C{(user, password)}, decoded as UTF-8 (Latin-1 where that
        fails), or L{None} when the header is absent or not Basic
        credentials.
    """
    if not value:
        return None
    scheme, _, encoded = value.strip().partition(b" ")
    if scheme.lower() != b"basic" or not encoded:
        return None
    try:
        decoded = binascii.a2b_base64(encoded.strip())
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(b":")
    if not colon:
        return None
    try:
        return user.decode("utf-8"), password.decode("utf-8")
    except UnicodeDecodeError:
        return user.decode("latin-1"), password.decode("latin-1")


def passwordMatches(given: str, expected: str | PasswordHash | None) -> bool:
    """
    Compare a password in constant time: the one place a configured secret,
    plain or hashed, is checked.

    @param given: what the client sent.
    @param expected: the configured password, or its L{PasswordHash};
        L{None} or empty means no password is configured, and nothing
        matches.
    @return: L{True} when they are equal (for a hash: when C{given} hashes
        to it).
    """
    if isinstance(expected, PasswordHash):
        return expected.matches(given)
    if not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def credentialsMatch(
    credentials: tuple[str, str] | None, user: str, password: str | PasswordHash | None
) -> bool:
    """
    Check parsed Basic credentials against a configured user and password.

    Both parts are always compared, so the time taken does not tell which
    one was wrong.

    @param credentials: from L{parseBasicAuth}.
    @param user: the expected user name.
    @param password: the expected password or its hash (L{None}: nothing
        matches).
    @return: L{True} when both match.
    """
    if credentials is None:
        return False
    givenUser, givenPassword = credentials
    userOK = hmac.compare_digest(givenUser.encode("utf-8"), user.encode("utf-8"))
    passwordOK = passwordMatches(givenPassword, password)
    return userOK and passwordOK
