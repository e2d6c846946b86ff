"""Argument parsing for ``%mltrack`` subcommands: argparse that reports instead of exiting.

argparse prints to stderr and calls ``sys.exit`` on a bad argument, which inside a kernel would
show a ``SystemExit`` traceback. Here a bad argument becomes IPython's :class:`UsageError`
(shown as one line, no traceback) and ``--help`` prints the help and stops the subcommand.
"""

from __future__ import annotations

import argparse
import difflib
import re
import shlex
from collections.abc import Sequence
from typing import Any, NoReturn

from IPython.core.error import UsageError


class HelpShown(Exception):
    """``--help`` was given: the help is printed and the subcommand does nothing else."""


class SubcommandParser(argparse.ArgumentParser):
    """An ArgumentParser for one subcommand that raises :class:`UsageError` on bad input."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}\n{self.format_usage().strip()}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if status:
            raise UsageError(f"{self.prog}: {message or 'invalid arguments'}")
        raise HelpShown()

    def parse(self, argv: Sequence[str]) -> argparse.Namespace:
        """Parse ``argv`` (already split); UsageError on bad input, HelpShown after ``--help``."""
        return self.parse_args(list(argv))


def split_line(text: str) -> list[str]:
    """Split a magic's argument text like a shell would; UsageError on unbalanced quotes."""
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"%mltrack: cannot parse the arguments ({exc}): {text!r}") from None


_TOKEN = re.compile(r"""\s*("[^"]*"|'[^']*'|\S+)""")


def take_leading_options(text: str, valued: set[str]) -> tuple[list[str], str]:
    """Split ``--options`` at the start of ``text`` from the free text that follows, verbatim.

    Used where the rest is an expression whose quotes matter (a search filter). ``valued``
    names the options that take a value (``--max 10``).
    """
    argv: list[str] = []
    pos = 0
    while True:
        match = _TOKEN.match(text, pos)
        if match is None or not match.group(1).startswith("-"):
            break
        option = match.group(1)
        argv.append(option)
        pos = match.end()
        if option in valued:
            value = _TOKEN.match(text, pos)
            if value is not None:
                argv.extend(split_line(value.group(1)))
                pos = value.end()
    return argv, text[pos:].strip()


def key_values(pairs: Sequence[str], what: str) -> dict[str, str]:
    """``["lr=0.1", "depth=3"]`` → ``{"lr": "0.1", "depth": "3"}``; UsageError on a bad pair."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(
                f"%mltrack {what}: expected key=value, got {pair!r} "
                "(quote values with spaces: key='a b')"
            )
        out[key.strip()] = value
    return out


def suggest(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest choice, or '' when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""
