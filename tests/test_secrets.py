"""
Tests for L{txradio.config.secrets}: passwords given by file, environment
variable or hash, in the file and on the command line.
"""

from __future__ import annotations

import os

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from txradio.config import ConfigError, parseConfig
from txradio.config.secrets import MAX_SECRET_FILE
from txradio.tap import Options
from txradio.wire.auth import passwordMatches
from txradio.wire.passwordhash import PasswordHash, hashPassword

CHEAP = {"n": 1 << 4, "r": 8, "p": 1}


def admin(value: str) -> str:
    """
    @param value: TOML for C{admin_password}.
    @return: a whole configuration with it.
    """
    return f'[server]\nadmin_password = {value}\n[[mount]]\npath = "/live"\nlive = true\nsource_password = "x"\n'


def source(value: str) -> str:
    """
    @param value: TOML for a mount's C{source_password}.
    @return: a whole configuration with it.
    """
    return f'[[mount]]\npath = "/live"\nlive = true\nsource_password = {value}\n'


def push(value: str) -> str:
    """
    @param value: TOML for a push's C{password}.
    @return: a whole configuration with it.
    """
    return (
        '[[mount]]\npath = "/live"\nlive = true\nsource_password = "x"\n'
        f'push = {{ url = "http://up.example:8000/live", password = {value} }}\n'
    )


class SecretFileTests(SynchronousTestCase):
    """
    C{{ file = … }} reads the first line of a file.
    """

    def write(self, data: bytes) -> str:
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_firstLine(self) -> None:
        """
        The first line is the secret, its line break (LF or CRLF) stripped.
        """
        for data in (b"hackme\n", b"hackme", b"hackme\r\nsecond line\n"):
            path = self.write(data)
            self.assertEqual(parseConfig(admin(f'{{ file = "{path}" }}')).server.adminPassword, "hackme")

    def test_sourceAndPush(self) -> None:
        """
        A mount's source password and a push's password can come from files.
        """
        path = self.write(b"pw\n")
        config = parseConfig(source(f'{{ file = "{path}" }}'))
        self.assertEqual(config.mounts[0].sourcePassword, "pw")
        self.assertEqual(parseConfig(push(f'{{ file = "{path}" }}')).mounts[0].push.password, "pw")

    def test_relativeToConfig(self) -> None:
        """
        A relative path is read from the configuration file's folder.
        """
        folder = self.mktemp()
        os.mkdir(folder)
        with open(os.path.join(folder, "admin"), "w") as f:
            f.write("pw\n")
        config = parseConfig(admin('{ file = "admin" }'), os.path.join(folder, "radio.toml"))
        self.assertEqual(config.server.adminPassword, "pw")

    def assertRefused(self, text: str, key: str, *words: str) -> ConfigError:
        with self.assertRaises(ConfigError) as caught:
            parseConfig(text)
        error = caught.exception
        self.assertEqual(error.key, key, str(error))
        for word in words:
            self.assertIn(word, error.problem)
        return error

    def test_missing(self) -> None:
        """
        A file that does not exist is an error naming the key.
        """
        path = os.path.abspath(self.mktemp())
        error = self.assertRefused(admin(f'{{ file = "{path}" }}'), "server.admin_password.file", "does not exist")
        self.assertTrue(str(error).startswith(f"<config>: server.admin_password.file: '{path}' does not exist"))

    def test_folder(self) -> None:
        """
        A folder is not a secret file.
        """
        folder = self.mktemp()
        os.mkdir(folder)
        self.assertRefused(source(f'{{ file = "{folder}" }}'), "mount[1].source_password.file", "is a folder")

    def test_unreadable(self) -> None:
        """
        A file that cannot be read is an error saying why.
        """
        if os.getuid() == 0:
            self.skipTest("root reads every file")
        path = self.write(b"pw\n")
        os.chmod(path, 0)
        self.assertRefused(admin(f'{{ file = "{path}" }}'), "server.admin_password.file", "cannot be read")

    def test_tooLarge(self) -> None:
        """
        A file larger than L{MAX_SECRET_FILE} is refused.
        """
        path = self.write(b"pw\n" + b"x" * MAX_SECRET_FILE)
        self.assertRefused(admin(f'{{ file = "{path}" }}'), "server.admin_password.file", str(MAX_SECRET_FILE))

    def test_emptyFirstLine(self) -> None:
        """
        An empty first line is refused, without showing the rest.
        """
        path = self.write(b"\nzq9pass\n")
        error = self.assertRefused(admin(f'{{ file = "{path}" }}'), "server.admin_password.file", "is empty")
        self.assertNotIn("zq9pass", str(error))

    def test_controlCharacters(self) -> None:
        """
        A secret with control characters is refused without being shown.
        """
        path = self.write(b"pw\x07pw\n")
        error = self.assertRefused(admin(f'{{ file = "{path}" }}'), "server.admin_password.file", "control")
        self.assertNotIn("pw\\x07", str(error))


class SecretEnvironmentTests(SynchronousTestCase):
    """
    C{{ env = … }} reads an environment variable.
    """

    def setUp(self) -> None:
        self.name = "TXRADIO_TEST_SECRET"
        self.addCleanup(os.environ.pop, self.name, None)

    def test_set(self) -> None:
        """
        A set variable is the secret.
        """
        os.environ[self.name] = "pw"
        config = parseConfig(admin(f'{{ env = "{self.name}" }}'))
        self.assertEqual(config.server.adminPassword, "pw")

    def test_unset(self) -> None:
        """
        An unset variable is an error naming the key and the variable.
        """
        with self.assertRaises(ConfigError) as caught:
            parseConfig(source(f'{{ env = "{self.name}" }}'))
        self.assertEqual(caught.exception.key, "mount[1].source_password.env")
        self.assertIn(f"{self.name} is not set", caught.exception.problem)

    def test_empty(self) -> None:
        """
        An empty variable is an error.
        """
        os.environ[self.name] = ""
        with self.assertRaises(ConfigError) as caught:
            parseConfig(admin(f'{{ env = "{self.name}" }}'))
        self.assertIn("is empty", caught.exception.problem)


class SecretHashTests(SynchronousTestCase):
    """
    C{{ hash = … }} and C{hashed = true} give a L{PasswordHash}.
    """

    def test_hash(self) -> None:
        """
        An admin or source password can be a hash, which verifies the
        password through L{passwordMatches}.
        """
        text = hashPassword("pw", **CHEAP).text()
        config = parseConfig(admin(f'{{ hash = "{text}" }}'))
        self.assertIsInstance(config.server.adminPassword, PasswordHash)
        self.assertTrue(passwordMatches("pw", config.server.adminPassword))
        self.assertFalse(passwordMatches("wrong", config.server.adminPassword))
        mount = parseConfig(source(f'{{ hash = "{text}" }}')).mounts[0]
        self.assertTrue(passwordMatches("pw", mount.sourcePassword))

    def test_hashedFile(self) -> None:
        """
        A file can hold a hash, with C{hashed = true}.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(hashPassword("pw", **CHEAP).text() + "\n")
        config = parseConfig(admin(f'{{ file = "{path}", hashed = true }}'))
        self.assertTrue(passwordMatches("pw", config.server.adminPassword))

    def test_badHash(self) -> None:
        """
        A hash that is not in the format names the key and the format.
        """
        with self.assertRaises(ConfigError) as caught:
            parseConfig(admin('{ hash = "hackme" }'))
        self.assertEqual(caught.exception.key, "server.admin_password.hash")
        self.assertIn("scrypt$N$r$p$SALT$HASH", caught.exception.problem)
        self.assertNotIn("hackme", str(caught.exception))

    def test_pushCannotBeHashed(self) -> None:
        """
        A push password is sent upstream: the checker says it cannot be a
        hash.
        """
        text = hashPassword("pw", **CHEAP).text()
        for value, key in ((f'{{ hash = "{text}" }}', "hash"), ('{ env = "HOME", hashed = true }', "hashed")):
            with self.assertRaises(ConfigError) as caught:
                parseConfig(push(value))
            self.assertEqual(caught.exception.key, f"mount[1].push.password.{key}")
            self.assertIn("sent to the upstream server", caught.exception.problem)

    def test_tableShape(self) -> None:
        """
        A table needs exactly one of file, env and hash, and no other key.
        """
        for value, key, words in (
            ("{}", "server.admin_password", "exactly one of file, env or hash"),
            ('{ file = "a", env = "B" }', "server.admin_password", "exactly one"),
            ('{ path = "a" }', "server.admin_password.path", "unknown key"),
            ("42", "server.admin_password", "must be a string or a table"),
            ('{ hash = "x", hashed = true }', "server.admin_password.hashed", "already a hash"),
        ):
            with self.assertRaises(ConfigError) as caught:
                parseConfig(admin(value))
            self.assertEqual(caught.exception.key, key, value)
            self.assertIn(words, caught.exception.problem)


class SecretOptionsTests(SynchronousTestCase):
    """
    C{--admin-password-file}, C{--source-password-file} and the
    C{TXRADIO_*_PASSWORD} variables.
    """

    def setUp(self) -> None:
        for name in ("TXRADIO_ADMIN_PASSWORD", "TXRADIO_SOURCE_PASSWORD"):
            self.addCleanup(os.environ.__setitem__, name, os.environ[name]) if name in os.environ else None
            self.addCleanup(os.environ.pop, name, None)
            os.environ.pop(name, None)
        self.path = self.mktemp()
        with open(self.path, "w") as f:
            f.write("from-file\n")

    def parse(self, *args: str) -> Options:
        options = Options()
        options.parseOptions(list(args))
        return options

    def test_adminPasswordFile(self) -> None:
        """
        C{--admin-password-file} reads the admin password from a file.
        """
        options = self.parse("--admin-password-file", self.path)
        self.assertEqual(options["radio"].server.adminPassword, "from-file")

    def test_sourcePasswordFile(self) -> None:
        """
        C{--source-password-file} makes the mount live, as
        C{--source-password} does, with the file's password.
        """
        options = self.parse("--source-password-file", self.path)
        mount = options["radio"].mounts[0]
        self.assertTrue(mount.live)
        self.assertEqual(mount.sourcePassword, "from-file")
        self.assertEqual(options["radio"].server.shoutcastSourceListen, ("tcp:8001",))

    def test_missingFile(self) -> None:
        """
        A missing file is an error naming the option.
        """
        with self.assertRaises(usage.UsageError) as caught:
            self.parse("--admin-password-file", "/nonexistent/admin")
        self.assertEqual(str(caught.exception), "--admin-password-file: '/nonexistent/admin' does not exist")

    def test_both(self) -> None:
        """
        A password given both literally and by file is refused.
        """
        with self.assertRaises(usage.UsageError) as caught:
            self.parse("--source-password", "x", "--source-password-file", self.path)
        self.assertIn("not both", str(caught.exception))

    def test_environment(self) -> None:
        """
        Without the options, C{TXRADIO_ADMIN_PASSWORD} and
        C{TXRADIO_SOURCE_PASSWORD} are read when set.
        """
        os.environ["TXRADIO_ADMIN_PASSWORD"] = "a"
        os.environ["TXRADIO_SOURCE_PASSWORD"] = "s"
        radio = self.parse()["radio"]
        self.assertEqual(radio.server.adminPassword, "a")
        self.assertEqual(radio.mounts[0].sourcePassword, "s")
        self.assertTrue(radio.mounts[0].live)

    def test_optionWinsOverEnvironment(self) -> None:
        """
        An option wins over the environment variable.
        """
        os.environ["TXRADIO_ADMIN_PASSWORD"] = "a"
        self.assertEqual(self.parse("--admin-password", "b")["radio"].server.adminPassword, "b")

    def test_emptyEnvironmentIgnored(self) -> None:
        """
        An empty variable counts as unset.
        """
        os.environ["TXRADIO_SOURCE_PASSWORD"] = ""
        self.assertFalse(self.parse()["radio"].mounts[0].live)
