from __future__ import annotations

import io

from mailstore.importexport import Progress
from moxweb.progress import ProgressPrinter


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_it_draws_one_redrawn_bar_on_a_terminal():
    out = TTY()
    printer = ProgressPrinter(out, "import")
    printer(Progress("Inbox", 0, 0, 2048, "bytes"))
    printer(Progress("Inbox", 2, 2048, 2048, "bytes"))
    printer.finish()
    assert out.getvalue() == (
        "\rimport [..............................]   0% 0 B/2.0 KB, 0 messages, Inbox\x1b[K"
        "\rimport [##############################] 100% 2.0 KB/2.0 KB, 2 messages, Inbox\x1b[K\n"
    )


def test_it_prints_a_line_per_ten_percent_otherwise():
    out = io.StringIO()
    printer = ProgressPrinter(out, "export")
    for done in range(0, 21):
        printer(Progress("Inbox", done, done, 20, "messages"))
    printer.finish()
    lines = out.getvalue().splitlines()
    assert lines[0] == "export 5%: 1 messages"
    assert lines[-1] == "export 100%: 20 messages"
    assert len(lines) == 11
