"""
A short, deterministic run of every fuzz target in C{fuzz/targets.py}: the
committed corpus (real captures and every input a fuzzer once crashed on),
then a fixed number of seeded random mutations of it.  It does not need
atheris; the coverage-guided runs are C{fuzz/run} (see C{fuzz/README.md}).
"""

from __future__ import annotations

import importlib.util
import os
import random
import sys

from twisted.trial.unittest import SynchronousTestCase

FUZZ = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fuzz")

MUTATIONS = 300
"""Random mutations per target (about 4,000 in all, under a second or two)."""

MAX_INPUT = 1024
"""Mutated inputs are cut to this many bytes, to keep the run short."""


def _loadTargets():
    spec = importlib.util.spec_from_file_location("txradio_fuzz_targets", os.path.join(FUZZ, "targets.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


targets = _loadTargets()


def corpus(name: str) -> list[tuple[str, bytes]]:
    """
    @param name: a target name.
    @return: C{(file name, bytes)} of its seeds, sorted by name.
    """
    folder = os.path.join(FUZZ, "corpus", name)
    result = []
    for entry in sorted(os.listdir(folder)):
        with open(os.path.join(folder, entry), "rb") as f:
            result.append((entry, f.read()))
    return result


def mutate(rng: random.Random, seeds: list[bytes]) -> bytes:
    """
    Make one input from the seeds the way a fuzzer would: flip, insert,
    delete, repeat or splice bytes a few times.

    @param rng: the seeded generator.
    @param seeds: the corpus.
    @return: a new input of at most L{MAX_INPUT} bytes.
    """
    data = bytearray(rng.choice(seeds)[:MAX_INPUT])
    for _ in range(rng.randint(1, 6)):
        where = rng.randint(0, len(data))
        action = rng.randrange(6)
        if action == 0 and data:
            data[min(where, len(data) - 1)] = rng.randrange(256)
        elif action == 1:
            data[where:where] = bytes(rng.choice(b"\x00\r\n :;='%\xff\x80/.") for _ in range(rng.randint(1, 4)))
        elif action == 2:
            del data[where : where + rng.randint(1, 64)]
        elif action == 3:
            data[where:where] = data[where : where + rng.randint(1, 32)] * rng.randint(2, 20)
        elif action == 4:
            other = rng.choice(seeds)
            start = rng.randint(0, len(other))
            data[where:] = other[start : start + rng.randint(0, 512)]
        else:
            data[where:where] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return bytes(data[:MAX_INPUT])


class FuzzSmokeTests(SynchronousTestCase):
    """
    Every target against its corpus and seeded mutations.
    """

    def test_everyTargetHasSeeds(self) -> None:
        """
        Every target has a corpus folder with seeds, and every corpus folder
        (but the raw captures) belongs to a target.
        """
        folders = set(os.listdir(os.path.join(FUZZ, "corpus"))) - {"captures"}
        self.assertEqual(folders, set(targets.TARGETS))
        for name in targets.TARGETS:
            self.assertTrue(corpus(name), name)

    def test_corpus(self) -> None:
        """
        Every seed passes its target (and so does every input a fuzzer once
        found a fault with, kept as C{regress-*}).
        """
        for name, target in targets.TARGETS.items():
            for entry, data in corpus(name):
                try:
                    target(data)
                except Exception as error:  # pragma: no cover - a finding
                    self.fail(f"{name}/{entry}: {error!r}")

    def test_mutations(self) -> None:
        """
        Seeded mutations of each corpus pass their targets.
        """
        for name, target in targets.TARGETS.items():
            rng = random.Random(f"txradio-{name}")
            seeds = [data for _, data in corpus(name)]
            for number in range(MUTATIONS):
                data = mutate(rng, seeds)
                try:
                    target(data)
                except Exception as error:  # pragma: no cover - a finding
                    self.fail(f"{name} mutation {number} {data[:200]!r}: {error!r}")
