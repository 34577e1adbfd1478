"""Command outcomes other than OK, raised by `do_<command>` methods."""
from __future__ import annotations


class CommandError(Exception):
    def __init__(self, status: str, text: str, code: str | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.code = code


def no(text: str, code: str | None = None) -> CommandError:
    return CommandError("NO", text, code)


def bad(text: str, code: str | None = None) -> CommandError:
    return CommandError("BAD", text, code)


class CloseConnection(Exception):
    """End the connection after writing what is buffered."""
