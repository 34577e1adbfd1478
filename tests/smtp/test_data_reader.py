"""The DATA reader on its own: any split of the input gives the same result."""
from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailcore.smtp.data import DataError, DataReader, LineEndingChecker


class LineByLine(DataReader):
    """The reader without its fast path for whole CRLF lines: the reference it must equal."""

    def _feed_lines(self, data: bytes) -> None:
        return None


def run(data: bytes, splits: list[int] | None = None, max_line: int = 100,
        reader_class: type[DataReader] = DataReader) -> tuple[bytes, bytes | None, object]:
    reader = reader_class(max_line=max_line)
    out = b""
    rest = None
    points = sorted(set(splits or []))
    pieces = [data[i:j] for i, j in zip([0, *points], [*points, len(data)])]
    for i, piece in enumerate(pieces):
        o, r = reader.feed(piece)
        out += o
        if r is not None:
            # What follows the end of the data is the next command, whichever piece
            # it arrived in (the connection keeps reading after the reader's rest).
            rest = r + b"".join(pieces[i + 1 :])
            break
    return out, rest, reader.error, reader.size, reader.has_8bit


def test_it_unstuffs_and_stops_at_the_end():
    assert run(b"a\r\n..b\r\n.c\r\n.\r\nQUIT\r\n")[:3] == (b"a\r\n.b\r\nc\r\n", b"QUIT\r\n", None)
    assert run(b".\r\n")[:3] == (b"", b"", None)
    assert run(b"..\r\n\xc3\xa9\r\n.\r\n") == (b".\r\n\xc3\xa9\r\n", b"", None, 7, True)


def test_it_refuses_bare_endings_and_long_lines():
    assert run(b"a\nb\r\n.\r\n")[2] is DataError.BARE_LF
    assert run(b"a\rb\r\n.\r\n")[2] is DataError.BARE_CR
    assert run(b"x" * 101 + b"\r\n.\r\n")[2] is DataError.LINE_TOO_LONG
    assert run(b"x" * 100 + b"\r\n.\r\n")[2] is None
    # After a bare LF, ".\r\n" is not the end.
    assert run(b"a\n.\r\nMAIL\r\n")[:3] == (b"", None, DataError.BARE_LF)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(min_value=0, max_value=320), max_size=8))
@example(b".", [3])  # the end of data is a piece's end: the next command is in the next piece
def test_any_split_gives_the_same_result(body, splits):
    data = body + b"\r\n.\r\n"
    whole = run(data)
    split = run(data, [s for s in splits if s <= len(data)])
    assert whole == split


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=40).filter(lambda b: b"\r" not in b and b"\n" not in b), max_size=10))
def test_clean_lines_round_trip_with_dot_stuffing(lines):
    message = b"".join(line + b"\r\n" for line in lines)
    stuffed = b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines)
    assert run(stuffed + b".\r\n", max_line=1000)[:3] == (message, b"", None)


# Lines of the kinds that matter: stuffed dots, end markers, bare CR and LF, 8-bit, long.
LINE_PIECES = st.sampled_from([b"a", b"text", b".", b"..", b"\r", b"\n", b"\r\n", b".\r\n", b"\xc3\xa9", b"x" * 60,
                               b" ", b"MAIL FROM:<a@b>"])


@settings(max_examples=400, deadline=None)
@given(st.lists(LINE_PIECES, max_size=40).map(b"".join), st.lists(st.integers(min_value=0, max_value=400), max_size=6),
       st.sampled_from([b"\r\n.\r\n", b"\r\n.\r\nQUIT\r\n", b"", b"\n.\r\n"]))
def test_the_fast_path_answers_as_line_by_line_reading(body, splits, end):
    data = body + end
    cuts = [s for s in splits if s <= len(data)]
    assert run(data, cuts) == run(data, cuts, reader_class=LineByLine)
    assert run(data, cuts, max_line=30) == run(data, cuts, max_line=30, reader_class=LineByLine)


def test_the_bdat_checker_finds_bare_endings_across_chunks():
    c = LineEndingChecker()
    c.feed(b"a\r")
    c.feed(b"\nb\r\n")
    c.close()
    assert c.error is None
    c = LineEndingChecker()
    c.feed(b"a\r")
    c.feed(b"b\r\n")
    assert c.error is DataError.BARE_CR
    c = LineEndingChecker()
    c.feed(b"a\n")
    assert c.error is DataError.BARE_LF
