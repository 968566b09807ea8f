"""
Tests for L{txradio.wire.passwordhash}, its use by L{txradio.wire.auth},
and C{txradio hash-password}.
"""

from __future__ import annotations

import io
import sys
import time

from twisted.trial.unittest import SynchronousTestCase

from txradio.__main__ import hashPassword as hashPasswordCommand
from txradio.__main__ import main
from txradio.wire.auth import credentialsMatch, passwordMatches
from txradio.wire.passwordhash import MAX_MEMORY, PasswordHash, hashPassword

# A cheap hash keeps the tests fast; the format is the same.
CHEAP = {"n": 1 << 4, "r": 8, "p": 1}


class PasswordHashTests(SynchronousTestCase):
    """
    L{PasswordHash} reads, writes and verifies C{scrypt$N$r$p$SALT$HASH}.
    """

    def test_roundTrip(self) -> None:
        """
        A hash written by L{hashPassword} parses back to an equal value.
        """
        made = hashPassword("s3cret", **CHEAP)
        text = made.text()
        self.assertTrue(text.startswith("scrypt$16$8$1$"))
        self.assertEqual(PasswordHash.parse(text), made)

    def test_matches(self) -> None:
        """
        The right password matches; a wrong one, an empty one and a longer
        one do not.
        """
        made = PasswordHash.parse(hashPassword("s3cret", **CHEAP).text())
        self.assertTrue(made.matches("s3cret"))
        self.assertTrue(made.matches("s3cret"))  # the remembered digest
        for wrong in ("s3cre", "s3cret ", "", "S3CRET"):
            self.assertFalse(made.matches(wrong), wrong)

    def test_saltDiffers(self) -> None:
        """
        Two hashes of one password differ (a fresh salt each time).
        """
        self.assertNotEqual(hashPassword("x", **CHEAP).text(), hashPassword("x", **CHEAP).text())

    def test_badFormat(self) -> None:
        """
        Text that is not a hash, or asks for too much memory, is refused with
        a message saying what is expected.
        """
        good = hashPassword("x", **CHEAP).text()
        for text in ("hackme", "scrypt$16$8$1$zz$zz", good.replace("scrypt", "bcrypt"), good + "0"):
            with self.assertRaises(ValueError) as caught:
                PasswordHash.parse(text)
            self.assertIn("scrypt$N$r$p$SALT$HASH", str(caught.exception))
        with self.assertRaises(ValueError) as caught:
            PasswordHash.parse(good.replace("scrypt$16$", "scrypt$15$"))
        self.assertIn("power of two", str(caught.exception))
        huge = good.replace("scrypt$16$8$", "scrypt$1048576$8$")
        with self.assertRaises(ValueError) as caught:
            PasswordHash.parse(huge)
        self.assertIn(str(MAX_MEMORY), str(caught.exception))

    def test_defaultCost(self) -> None:
        """
        The default parameters verify in well under a second
        (they block the reactor while they run).
        """
        made = hashPassword("s3cret")
        self.assertEqual((made.n, made.r, made.p), (1 << 14, 8, 1))
        fresh = PasswordHash.parse(made.text())
        started = time.perf_counter()
        self.assertFalse(fresh.matches("wrong"))
        self.assertLess(time.perf_counter() - started, 1.0)


class AuthTests(SynchronousTestCase):
    """
    L{passwordMatches} and L{credentialsMatch} take a hash where they take a
    password.
    """

    def test_passwordMatchesHash(self) -> None:
        """
        A hashed secret is verified through L{passwordMatches}.
        """
        secret = hashPassword("hackme", **CHEAP)
        self.assertTrue(passwordMatches("hackme", secret))
        self.assertFalse(passwordMatches("hackm", secret))

    def test_credentialsMatchHash(self) -> None:
        """
        Basic credentials match a user and a hashed password; a wrong user or
        password does not.
        """
        secret = hashPassword("hackme", **CHEAP)
        self.assertTrue(credentialsMatch(("admin", "hackme"), "admin", secret))
        self.assertFalse(credentialsMatch(("root", "hackme"), "admin", secret))
        self.assertFalse(credentialsMatch(("admin", "nope"), "admin", secret))

    def test_plainUnchanged(self) -> None:
        """
        Plain passwords and L{None} behave as before.
        """
        self.assertTrue(passwordMatches("x", "x"))
        self.assertFalse(passwordMatches("x", None))
        self.assertFalse(passwordMatches("", ""))


class _Input(io.StringIO):
    """
    Standard input that may claim to be a terminal.
    """

    def __init__(self, text: str, tty: bool) -> None:
        io.StringIO.__init__(self, text)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


class HashPasswordCommandTests(SynchronousTestCase):
    """
    C{txradio hash-password} prints a hash the server accepts.
    """

    def setUp(self) -> None:
        self.out, self.err = io.StringIO(), io.StringIO()
        self.patch(sys, "stdout", self.out)
        self.patch(sys, "stderr", self.err)

    def test_pipedRoundTrip(self) -> None:
        """
        A password piped on standard input (its newline stripped) is printed
        as a hash that verifies it.
        """
        status = hashPasswordCommand(stdin=_Input("hackme\nignored\n", tty=False))
        self.assertEqual(status, 0)
        made = PasswordHash.parse(self.out.getvalue().strip())
        self.assertTrue(made.matches("hackme"))
        self.assertFalse(made.matches("hackme\n"))

    def test_prompt(self) -> None:
        """
        On a terminal the password is asked twice without echo.
        """
        answers = iter(["pw", "pw"])
        status = hashPasswordCommand(stdin=_Input("", tty=True), prompt=lambda _: next(answers))
        self.assertEqual(status, 0)
        self.assertTrue(PasswordHash.parse(self.out.getvalue().strip()).matches("pw"))

    def test_promptDiffers(self) -> None:
        """
        Two different answers at the prompt print nothing and exit 1.
        """
        answers = iter(["pw", "wp"])
        self.assertEqual(hashPasswordCommand(stdin=_Input("", tty=True), prompt=lambda _: next(answers)), 1)
        self.assertEqual(self.out.getvalue(), "")
        self.assertIn("differ", self.err.getvalue())

    def test_empty(self) -> None:
        """
        An empty password is refused.
        """
        self.assertEqual(hashPasswordCommand(stdin=_Input("\n", tty=False)), 1)
        self.assertIn("empty", self.err.getvalue())

    def test_mainDispatches(self) -> None:
        """
        C{txradio hash-password} runs the command; extra arguments are a
        usage error.
        """
        self.patch(sys, "stdin", _Input("x\n", tty=False))
        with self.assertRaises(SystemExit) as caught:
            main(["hash-password"])
        self.assertEqual(caught.exception.code, 0)
        self.assertTrue(self.out.getvalue().startswith("scrypt$16384$8$1$"))
        with self.assertRaises(SystemExit) as caught:
            main(["hash-password", "extra"])
        self.assertEqual(caught.exception.code, 2)
