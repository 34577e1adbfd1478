"""Import and export of mailboxes as mbox (mboxrd) and maildir, plain or in zip/tgz archives.

Used by `manage.py import` and `manage.py export`, and meant for the web UI: the work is
done by `import_mailboxes` and `export_mailboxes`, which report through a progress
callback and never hold a whole archive or mailbox in memory (one message at a time, read
and written as a stream of lines).

Decisions (see docs/commands.md):
- mbox is read and written as mboxrd: a line that would start with ">*From " gets one more
  ">" on export and loses one on import. Exported mbox files use LF line endings, as mbox
  tools expect; imported messages get CRLF line endings, as IMAP serves them, so an
  exported message imports back byte for byte.
- Flags travel in mbox as the mutt/Thunderbird headers `Status` (R: \\Seen), `X-Status`
  (A: \\Answered, F: \\Flagged, T: \\Draft, D: \\Deleted) and `X-Keywords` (other flags
  and keywords). Export writes them right after the From line; import removes them from
  the header (they describe the mbox entry, not the message).
- maildir files keep the message bytes as stored (CRLF); flags are the info letters
  (D, F, P=$Forwarded, R=\\Answered, S=\\Seen, T=\\Deleted) and lower-case letters from
  a `dovecot-keywords` file for keywords.
- An archive (.zip, .tgz/.tar.gz) or directory holding several mailboxes is imported
  with names from its paths ("Sent Items.mbox" becomes Sent, ".Lists.python" maildir++
  becomes Lists/python) under the MAILBOX given, or at the top level for "" or "/".
"""
from __future__ import annotations

import io
import os
import re
import secrets
import shutil
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO

from django.db import transaction
from isal import igzip, isal_zlib

from accounts.models import Account
from mailstore import files, gmaillabels
from mailstore.actions import Prepared, QuotaExceeded, deliver, deliver_prepared, normalize_mailbox_name, prepare_delivery
from mailstore.models import Mailbox, Message


class ImportExportError(Exception):
    """Bad input or destination, with a message fit for the operator."""


@dataclass
class Progress:
    """Where an import or export is. `done`/`total` count bytes on import and messages on
    export (`unit`); `messages` counts messages done so far over all mailboxes."""

    mailbox: str
    messages: int
    done: int
    total: int
    unit: str


ProgressFn = Callable[[Progress], None]


@dataclass
class Result:
    """Messages per mailbox, in the order the mailboxes were done; skipped entries."""

    counts: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    aborted: bool = False  # stopped on request before the end

    @property
    def total(self) -> int:
        return sum(self.counts.values())


# Names other systems give the special mailboxes, lower-cased, mapped to ours.
SPECIAL_NAMES: dict[str, str] = {
    "inbox": "Inbox",
    "sent": "Sent",
    "sent items": "Sent",
    "sent messages": "Sent",
    "sent mail": "Sent",
    "[gmail]/sent mail": "Sent",
    "drafts": "Drafts",
    "draft": "Drafts",
    "[gmail]/drafts": "Drafts",
    "junk": "Junk",
    "spam": "Junk",
    "junk e-mail": "Junk",
    "junk email": "Junk",
    "bulk mail": "Junk",
    "[gmail]/spam": "Junk",
    "trash": "Trash",
    "deleted items": "Trash",
    "deleted messages": "Trash",
    "bin": "Trash",
    "[gmail]/trash": "Trash",
    "[gmail]/bin": "Trash",
    "archive": "Archive",
    "archives": "Archive",
    "[gmail]/all mail": "Archive",
}

# Maildir info letters (cr.yp.to/proto/maildir.html) <-> our flags. Letters in ASCII order.
MAILDIR_FLAGS: list[tuple[str, str]] = [
    ("D", "\\Draft"),
    ("F", "\\Flagged"),
    ("P", "$Forwarded"),
    ("R", "\\Answered"),
    ("S", "\\Seen"),
    ("T", "\\Deleted"),
]
MBOX_XSTATUS: list[tuple[str, str]] = [
    ("A", "\\Answered"),
    ("F", "\\Flagged"),
    ("T", "\\Draft"),
    ("D", "\\Deleted"),
]
# Headers that describe an mbox entry rather than the message; removed on import.
MBOX_STATE_HEADERS = (b"status:", b"x-status:", b"x-keywords:")

_ESCAPED_FROM = re.compile(rb"^>*From ")
_CHUNK = 64 * 1024


def map_mailbox_name(name: str) -> str:
    """A mailbox name from another system in ours: special names mapped, Inbox normalised."""
    name = name.strip("/")
    mapped = SPECIAL_NAMES.get(name.lower())
    if mapped is not None:
        return mapped
    first, sep, rest = name.partition("/")
    mapped = SPECIAL_NAMES.get(first.lower())
    if mapped is not None and sep:
        return f"{mapped}/{rest}"
    return normalize_mailbox_name(name)


def flags_split(flags: Iterable[str]) -> tuple[set[str], list[str]]:
    """(system flags and well-known keywords, other keywords) for `deliver`."""
    system: set[str] = set()
    keywords: list[str] = []
    for flag in flags:
        if not flag:
            continue
        if flag.lower() in Message.SYSTEM_FLAGS:
            system.add(flag)
        elif not flag.startswith("\\"):
            keywords.append(flag)
    return system, keywords


# --- a tree of files: a directory, a zip or a tar archive, read the same way ---------------


@dataclass
class Entry:
    path: str  # relative, "/"-separated
    size: int
    mtime: float
    opener: Callable[[], IO[bytes]]


def archive_kind(path: str) -> str:
    lowered = path.lower()
    if lowered.endswith(".zip"):
        return "zip"
    if lowered.endswith((".tgz", ".tar.gz")):
        return "tgz"
    return ""


class Tree:
    """The files of an import source, in a stable order, each opened as a stream."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.kind = archive_kind(path.name) or ("dir" if path.is_dir() else "file")
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None

    def __enter__(self) -> Tree:
        try:
            if self.kind == "zip":
                self._zip = zipfile.ZipFile(self.path)
            elif self.kind == "tgz":
                self._tar = tarfile.open(self.path, "r:gz")
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
            raise ImportExportError(f"{self.path}: not a readable {self.kind} archive: {exc}") from exc
        return self

    def __exit__(self, *exc: object) -> None:
        if self._zip is not None:
            self._zip.close()
        if self._tar is not None:
            self._tar.close()

    def entries(self) -> list[Entry]:
        if self._zip is not None:
            zf = self._zip
            out = []
            for info in zf.infolist():
                if info.is_dir():
                    continue
                mtime = datetime(*info.date_time, tzinfo=UTC).timestamp()
                out.append(Entry(info.filename, info.file_size, mtime, lambda i=info: zf.open(i)))
            return out
        if self._tar is not None:
            tf = self._tar
            out = []
            try:
                members = tf.getmembers()
            except (tarfile.TarError, EOFError, OSError) as exc:
                raise ImportExportError(f"{self.path}: broken tar archive: {exc}") from exc
            for member in members:
                if not member.isfile():
                    continue

                def opener(m: tarfile.TarInfo = member) -> IO[bytes]:
                    fh = tf.extractfile(m)
                    assert fh is not None
                    return fh

                out.append(Entry(member.name.removeprefix("./"), member.size, float(member.mtime), opener))
            return out
        if self.kind == "dir":
            out = []
            for root, dirs, names in os.walk(self.path):
                dirs.sort()
                for name in sorted(names):
                    full = Path(root) / name
                    st = full.stat()
                    rel = full.relative_to(self.path).as_posix()
                    out.append(Entry(rel, st.st_size, st.st_mtime, lambda f=full: open(f, "rb")))
            return out
        st = self.path.stat()
        return [Entry(self.path.name, st.st_size, st.st_mtime, lambda: open(self.path, "rb"))]


# --- import ------------------------------------------------------------------------------


@dataclass
class Draft:
    """One message read from a source, written to a finished temporary file."""

    path: Path
    flags: set[str]
    keywords: list[str]
    received: datetime | None
    read: int  # source bytes consumed, for progress
    gmail_labels: list[str] | None = None  # a Google Takeout message's X-Gmail-Labels


def _parse_from_line_date(line: bytes) -> datetime | None:
    """`From sender Thu Nov 25 13:51:46 2026` (asctime, sometimes with a zone)."""
    parts = line.decode("latin-1").split()
    for fmt, count in (("%a %b %d %H:%M:%S %Y", 5), ("%a %b %d %H:%M:%S %Y %z", 6), ("%a %b %d %H:%M:%S %z %Y", 6)):
        if len(parts) >= 2 + count:
            try:
                dt = datetime.strptime(" ".join(parts[2 : 2 + count]), fmt)
            except ValueError:
                continue
            return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return None


def _lines(fh: IO[bytes]) -> Iterator[tuple[bytes, bool]]:
    """Lines of a stream in pieces of at most 64 KiB, each with whether it starts a line."""
    start = True
    for piece in iter(lambda: fh.readline(_CHUNK), b""):
        yield piece, start
        start = piece.endswith(b"\n")


class _CRLF:
    """Bare LF line endings to CRLF, also when a CR ended the previous piece."""

    def __init__(self) -> None:
        self._cr = False

    def __call__(self, piece: bytes) -> bytes:
        if piece.endswith(b"\n") and not piece.endswith(b"\r\n") and not (piece == b"\n" and self._cr):
            piece = piece[:-1] + b"\r\n"
        self._cr = piece.endswith(b"\r")
        return piece


def read_mbox(fh: IO[bytes], name: str) -> Iterator[Draft]:
    """Messages of an mboxrd/mboxo file, each streamed into a temporary file."""
    lines = _lines(fh)
    first = next(lines, (b"", True))[0]
    if first == b"":
        return  # an empty mbox: an empty mailbox
    if not first.startswith(b"From "):
        raise ImportExportError(f"{name}: not an mbox file (the first line does not start with \"From \")")
    from_line = first
    while from_line:
        tmp = files.TempMessageFile()
        to_crlf = _CRLF()
        try:
            read = len(from_line)
            flags: set[str] = set()
            keywords: list[str] = []
            in_header = True
            skipping = False
            labels: bytes | None = None
            in_labels = False
            held: bytes | None = None
            held_blank = False
            next_from = b""
            for line, start in lines:
                if start and line.startswith(b"From "):
                    next_from = line
                    break
                read += len(line)
                if in_header and start:
                    if line in (b"\n", b"\r\n"):
                        in_header = False
                    elif skipping and line[:1] in (b" ", b"\t"):
                        continue
                    else:
                        skipping = False
                        if in_labels and line[:1] in (b" ", b"\t"):
                            labels = (labels or b"") + line
                        else:
                            in_labels = line[: len(gmaillabels.HEADER)].lower() == gmaillabels.HEADER
                            if in_labels:
                                labels = line[len(gmaillabels.HEADER):]
                        if line.lower().startswith(MBOX_STATE_HEADERS):
                            skipping = True
                            _mbox_state(line, flags, keywords)
                            continue
                elif skipping:
                    continue  # the rest of an over-long state header
                if start and line.startswith(b">") and _ESCAPED_FROM.match(line):
                    line = line[1:]
                if held is not None:
                    tmp.write(held)
                held = to_crlf(line)
                held_blank = start and held == b"\r\n"
            # The empty line before the next From line belongs to the mbox, not the message.
            if held is not None and not held_blank:
                tmp.write(held)
            path = tmp.finish(sync=False)  # synced in place with its batch (_Batch)
        except BaseException:
            tmp.discard()
            raise
        gmail = gmaillabels.parse_labels(labels) if labels is not None else None
        yield Draft(path, flags, keywords, _parse_from_line_date(from_line), read, gmail)
        from_line = next_from


def _mbox_state(line: bytes, flags: set[str], keywords: list[str]) -> None:
    name, _, value = line.decode("utf-8", "replace").partition(":")
    value = value.strip()
    name = name.lower()
    if name == "status":
        if "R" in value:
            flags.add("\\Seen")
    elif name == "x-status":
        for letter, flag in MBOX_XSTATUS:
            if letter in value:
                flags.add(flag)
    else:
        system, other = flags_split(w for w in re.split(r"[\s,]+", value) if w)
        flags.update(system)
        keywords.extend(other)


def _copy_crlf(fh: IO[bytes], tmp: files.TempMessageFile) -> int:
    read = 0
    to_crlf = _CRLF()
    for piece, _ in _lines(fh):
        read += len(piece)
        tmp.write(to_crlf(piece))
    return read


_MAILDIR_TIME = re.compile(r"^(\d{9,12})[.]")


def _maildir_info(name: str, dovecot: dict[str, str]) -> tuple[set[str], list[str], float | None]:
    flags: set[str] = set()
    keywords: list[str] = []
    base, sep, info = name.partition(":2,")
    if sep:
        letters = dict(MAILDIR_FLAGS)
        for ch in info:
            if ch in letters:
                flags.add(letters[ch])
            elif ch in dovecot:
                system, other = flags_split([dovecot[ch]])
                flags.update(system)
                keywords.extend(other)
    m = _MAILDIR_TIME.match(base)
    return flags, keywords, float(m.group(1)) if m else None


def _dovecot_keywords(data: bytes) -> dict[str, str]:
    """`dovecot-keywords`: lines "<index> <keyword>"; index 0 is letter a."""
    out: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        index, _, word = line.strip().partition(" ")
        if index.isdigit() and int(index) < 26 and word:
            out[chr(ord("a") + int(index))] = word
    return out


def _maildir_names(roots: Iterable[str]) -> dict[str, str]:
    """Mailbox names for the maildirs at `roots` (relative paths) of a tree.

    Maildir++ (Dovecot, Courier) keeps folders as ".A.B" beside the Inbox's cur/new/tmp:
    such a parent is the Inbox and ".A.B" is A/B, both named from the parent's parent.
    Other maildirs are named by their path.
    """
    roots = set(roots)

    def parts(rel: str) -> list[str]:
        return [p for p in PurePosixPath(rel).parts if p not in (".", "")]

    plusplus = set()
    for rel in roots:
        ps = parts(rel)
        if ps and ps[-1].startswith(".") and len(ps[-1]) > 1:
            plusplus.add("/".join(ps[:-1]))
    names = {}
    for rel in roots:
        ps = parts(rel)
        base = "/".join(ps)
        if base in plusplus:
            names[rel] = "/".join(ps[:-1] + ["Inbox"]) if ps else "Inbox"
        elif ps and "/".join(ps[:-1]) in plusplus and ps[-1].startswith("."):
            names[rel] = "/".join(ps[:-2] + ps[-1][1:].split("."))
        else:
            names[rel] = base
    return names


@dataclass
class _Source:
    """One mailbox to import: its name in the tree ("" for the root) and its entries."""

    name: str
    entries: list[Entry]
    keywords: dict[str, str] = field(default_factory=dict)


def _find_sources(tree: Tree, fmt: str, result: Result) -> list[_Source]:
    entries = tree.entries()
    if fmt == "mbox":
        if tree.kind == "file":
            return [_Source("", entries)]
        sources = []
        for entry in entries:
            lowered = entry.path.lower()
            if lowered.endswith(".mbox"):
                sources.append(_Source(entry.path[: -len(".mbox")], [entry]))
                continue
            with entry.opener() as fh:
                head = fh.read(5)
            if head == b"From ":
                sources.append(_Source(entry.path, [entry]))
            else:
                result.skipped.append(entry.path)
        return sources
    if tree.kind == "file":
        raise ImportExportError(f"{tree.path}: a maildir is a directory (with cur/ and new/) or a .zip/.tgz archive")
    by_dir: dict[str, _Source] = {}
    keyword_files: dict[str, Entry] = {}
    for entry in entries:
        p = PurePosixPath(entry.path)
        if p.parent.name in ("cur", "new"):
            root = str(p.parent.parent)
            by_dir.setdefault(root, _Source(root, [])).entries.append(entry)
        elif p.name == "dovecot-keywords":
            keyword_files[str(p.parent)] = entry
        elif p.parent.name != "tmp":
            result.skipped.append(entry.path)
    names = _maildir_names(by_dir)
    for root, source in by_dir.items():
        if root in keyword_files:
            with keyword_files[root].opener() as fh:
                source.keywords = _dovecot_keywords(fh.read(64 * 1024))
        source.name = names[root]

        def order(e: Entry) -> tuple[float, str]:
            m = _MAILDIR_TIME.match(PurePosixPath(e.path).name)
            return (float(m.group(1)) if m else e.mtime, e.path)

        source.entries.sort(key=order)
    return sorted(by_dir.values(), key=lambda s: s.name)


def _target(mailbox: str, name: str, single: bool) -> str:
    """Where a source goes: MAILBOX for a lone file or root maildir, else its mapped name."""
    top = mailbox.strip() in ("", "/")
    if single and name == "":
        if top:
            return "Inbox"
        return normalize_mailbox_name(mailbox)
    mapped = map_mailbox_name(name) if name else "Inbox"
    if top:
        return mapped
    return normalize_mailbox_name(f"{mailbox.rstrip('/')}/{mapped}")


def _read_source(source: _Source, fmt: str) -> Iterator[Draft]:
    if fmt == "mbox":
        entry = source.entries[0]
        with entry.opener() as fh:
            yield from read_mbox(fh, entry.path)
        return
    for entry in source.entries:
        flags, keywords, stamp = _maildir_info(PurePosixPath(entry.path).name, source.keywords)
        received = datetime.fromtimestamp(stamp if stamp is not None else entry.mtime, tz=UTC)
        tmp = files.TempMessageFile()
        try:
            with entry.opener() as fh:
                read = _copy_crlf(fh, tmp)
            path = tmp.finish(sync=False)  # synced in place with its batch (_Batch)
        except BaseException:
            tmp.discard()
            raise
        yield Draft(path, flags, keywords, received, read)


def import_mailboxes(
    account: Account, fmt: str, mailbox: str, path: Path, progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Result:
    """Import an mbox file, a maildir, or a directory/archive of them into `account`.

    Messages are stored in batches (`_Batch`), each whole message durable once its batch
    committed; on an error the messages read so far stay, and the error says how far the
    import came. When
    `should_stop()` turns true the import ends before the next message (`aborted`). A
    Google Takeout message is filed by its labels (mailstore/gmaillabels.py), under
    MAILBOX unless that is "" or "/".
    """
    if fmt not in ("mbox", "maildir"):
        raise ImportExportError(f"unknown format {fmt!r}: mbox or maildir")
    if not path.exists():
        raise ImportExportError(f"{path}: no such file or directory")
    result = Result()
    with Tree(path) as tree:
        if fmt == "maildir" and tree.kind == "dir" and ((path / "cur").is_dir() or (path / "new").is_dir()):
            sources = _find_sources(tree, fmt, result)
            single = len(sources) == 1 and sources[0].name == ""
        else:
            sources = _find_sources(tree, fmt, result)
            single = tree.kind == "file"
        if not sources:
            raise ImportExportError(f"{path}: no {fmt} mailboxes found")
        total = sum(e.size for s in sources for e in s.entries)
        done = 0
        for source in sources:
            target = _target(mailbox, source.name, single)
            result.counts.setdefault(target, 0)
            labelled = False
            if progress:
                progress(Progress(target, result.total, done, total, "bytes"))
            drafts = _read_source(source, fmt)
            batch = _Batch(account)
            try:
                for draft in drafts:
                    if should_stop is not None and should_stop():
                        draft.path.unlink(missing_ok=True)
                        result.aborted = True
                        return result
                    into, system = [target], draft.flags
                    if draft.gmail_labels is not None:
                        labelled = True
                        into, system = _gmail_filing(mailbox, draft)
                    try:
                        batch.add(into, draft, system)
                    finally:
                        draft.path.unlink(missing_ok=True)
                    for name in into:
                        result.counts[name] = result.counts.get(name, 0) + 1
                    done += draft.read
                    if progress:
                        progress(Progress(into[0], result.total, done, total, "bytes"))
            except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
                raise ImportExportError(
                    f"{source.entries[0].path if source.entries else path}: {exc} "
                    f"(after {result.total} messages were imported)"
                ) from exc
            finally:
                drafts.close()
                # Messages delivered before an error or a stop are whole: they stay.
                batch.commit()
            if labelled and result.counts.get(target) == 0:
                del result.counts[target]
    return result


class _Batch:
    """Imported messages stored a batch at a time: each message's file is moved into
    place unsynced, and when the batch is full (BATCH_MESSAGES messages or BATCH_SECONDS)
    the files are fsynced together, their directory once (a batch shares one bucket),
    and the rows inserted in one transaction (`deliver_prepared`: a handful of statements
    for the batch, where a delivery each took seven and two fsyncs). A message counts
    once its batch committed; a batch is also committed before a stop and after an
    error, so an import that ends early keeps only whole messages, and a failed batch
    removes its files."""

    BATCH_MESSAGES = 64
    BATCH_SECONDS = 0.5

    def __init__(self, account: Account) -> None:
        self.account = account
        self._items: list[Prepared] = []
        self._dests: list[Path] = []
        self._bucket = ""
        self._started = 0.0

    def add(self, mailboxes: list[str], draft: Draft, flags: set[str]) -> None:
        """Take the draft's file (moved into the account's directory) into the first
        mailbox, and a hard link to it into each further one (a Takeout message's other
        labels)."""
        if not self._items:
            self._started = time.monotonic()
            self._bucket = files.new_bucket()
        first: Path | None = None
        for mailbox in mailboxes:
            dest, rel = files.new_message_path(self.account.pk, self._bucket)
            item = prepare_delivery(self.account, mailbox, first or draft.path, rel, received=draft.received,
                                    flags=flags, keywords=draft.keywords)
            if first is None:
                files.place_unsynced(draft.path, dest)
                first = dest
            else:
                os.link(first, dest)  # the same bucket directory: never across file systems
            self._items.append(item)
            self._dests.append(dest)
        if len(self._items) >= self.BATCH_MESSAGES or time.monotonic() - self._started >= self.BATCH_SECONDS:
            self.commit()

    def commit(self) -> None:
        items, self._items = self._items, []
        dests, self._dests = self._dests, []
        if not items:
            return
        try:
            files.sync_placed(dests)
            stored = len(deliver_prepared(self.account, items))
        except BaseException:
            _remove(dests)  # their rows were not committed
            raise
        if stored < len(items):
            _remove(dests[stored:])
            raise QuotaExceeded("account over quota")


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _gmail_filing(mailbox: str, draft: Draft) -> tuple[list[str], set[str]]:
    """The mailboxes (the one it is filed in, then those its other labels copy it to)
    and flags of a Takeout message, from its labels and mbox flags."""
    filed = gmaillabels.filing(draft.gmail_labels or [])
    flags = set(draft.flags)
    if filed.seen is not None:
        flags = {f for f in flags if f.lower() != "\\seen"} | ({"\\Seen"} if filed.seen else set())
    if filed.flagged:
        flags.add("\\Flagged")
    return [_target(mailbox, name, single=False) for name in (filed.mailbox, *filed.copies)], flags


# --- export ------------------------------------------------------------------------------


def _asctime(dt: datetime) -> str:
    dt = dt.astimezone(UTC)
    return f"{dt:%a %b} {dt.day:2d} {dt:%H:%M:%S %Y}"


def mbox_from_line(message: Message) -> bytes:
    sender = message.mail_from if message.mail_from and not any(c.isspace() for c in message.mail_from) else "MAILER-DAEMON"
    return f"From {sender} {_asctime(message.received)}\n".encode()


def mbox_state_headers(message: Message) -> bytes:
    out = b""
    if message.seen:
        out += b"Status: RO\n"
    xstatus = "".join(letter for letter, flag in MBOX_XSTATUS if getattr(message, Message.SYSTEM_FLAGS[flag.lower()]))
    if xstatus:
        out += f"X-Status: {xstatus}\n".encode()
    words = [
        name for field_name, name in Message.FLAG_NAMES.items()
        if name.startswith("$") and getattr(message, field_name)
    ] + list(message.keywords)
    if words:
        out += f"X-Keywords: {','.join(words)}\n".encode()
    return out


_FROM_LINES = re.compile(rb"^(>*From )", re.MULTILINE)
# Message bytes are converted for mbox a block of whole lines at a time (bytes.replace
# and one regex pass, in C), not line by line in Python: 20 -> ... MB/s for a 1 GB mailbox.
_MBOX_BLOCK = 256 * 1024


def _mboxrd_block(data: bytes, at_line_start: bool) -> bytes:
    """CRLF to LF and ">*From " lines escaped with one more ">" (mboxrd)."""
    data = data.replace(b"\r\n", b"\n")
    if b"From " not in data:
        return data
    if at_line_start:
        return _FROM_LINES.sub(rb">\1", data)
    # The block continues a line: a byte in front keeps its start from matching "^".
    return _FROM_LINES.sub(rb">\1", b"x" + data)[1:]


def write_mbox_message(out: IO[bytes], message: Message) -> None:
    """One mboxrd entry: From line, state headers, the message with LF endings and
    ">*From " lines escaped, an empty line. Memory stays at a block whatever the size
    of the message or of its lines."""
    out.write(mbox_from_line(message) + mbox_state_headers(message))
    carry = b""
    at_line_start = True
    last = b"\n"
    with _open_message(message) as fh:
        while True:
            block = fh.read(_MBOX_BLOCK)
            buf = carry + block
            if not block:
                carry, whole = b"", buf  # the end: a last line without LF, or nothing
            else:
                cut = buf.rfind(b"\n") + 1
                if cut == 0 and len(buf) >= _MBOX_BLOCK:
                    # An over-long line: write it on, keeping a CR that may pair with an LF.
                    cut = len(buf) - 1 if buf.endswith(b"\r") else len(buf)
                whole, carry = buf[:cut], buf[cut:]
            if whole:
                out.write(_mboxrd_block(whole, at_line_start))
                at_line_start = whole.endswith(b"\n")
                last = whole
            if not block:
                break
    if not last.endswith(b"\n"):
        out.write(b"\n")
    out.write(b"\n")


def maildir_filename(message: Message, uidvalidity: int, dovecot: list[str]) -> str:
    letters = [letter for letter, flag in MAILDIR_FLAGS if getattr(message, Message.SYSTEM_FLAGS[flag.lower()])]
    for word in _maildir_keywords(message):
        letters.append(chr(ord("a") + dovecot.index(word)))
    stamp = int(message.received.timestamp())
    return f"{stamp}.{uidvalidity}_{message.uid}.moxweb:2,{''.join(sorted(letters))}"


def _maildir_keywords(message: Message) -> list[str]:
    """Flags without a maildir letter: mox's well-known keywords and the message's own."""
    words = [
        name for field_name, name in Message.FLAG_NAMES.items()
        if name.startswith("$") and name != "$Forwarded" and getattr(message, field_name)
    ]
    return words + list(message.keywords)


def _open_message(message: Message) -> IO[bytes]:
    fh = open(files.message_path(message.path), "rb")
    if not message.prefix:
        return fh
    # Buffered: its read(n) returns n bytes until the end, as tarfile's copy requires
    # (a raw read returned the prefix alone, and a maildir.tgz export failed).
    return io.BufferedReader(_Concat(bytes(message.prefix), fh), _CHUNK)


class _Concat(io.RawIOBase):
    """The prefix and then the file, as one readable stream."""

    def __init__(self, head: bytes, fh: IO[bytes]) -> None:
        self._head = head
        self._fh = fh

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buf), len(self._head))
            buf[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._fh.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._fh.close()
        super().close()


# Deflate level 1: text mail shrinks to 25% (19% at level 6) at five times the speed;
# attachments, already base64, hardly shrink at any level. An export is a download or a
# backup, where throughput matters more than the last few percent. The deflate is ISA-L's
# (isal), not zlib's: the same standard output, and at level 1 the same size for this
# mail, at about ten times zlib's speed (zlib's 60 MB/s held a 1 GB export under 50 MB/s).
COMPRESS_LEVEL = 1
# tarfile's stream buffer: the gzip writer gets blocks of this size, not 10 KiB records.
_TAR_BUFFER = 256 * 1024


class _Sink:
    """Where exported files go: a directory, a zip or a tgz, written as streams. With
    `stream`, the archive (kind from `dest`'s name) is written to it as it is made; it
    need not be seekable (the web page's download)."""

    def __init__(self, dest: Path, stream: IO[bytes] | None = None) -> None:
        self.dest = dest
        self.stream = stream
        self.kind = archive_kind(dest.name) or "dir"
        if stream is not None:
            if self.kind == "dir":
                raise ImportExportError(f"{dest.name}: a stream takes a .zip or .tgz archive")
        elif self.kind == "dir":
            if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
                raise ImportExportError(f"{dest} exists and is not an empty directory")
        elif dest.exists():
            raise ImportExportError(f"{dest} exists; not overwriting it")
        if not dest.parent.is_dir():
            raise ImportExportError(f"{dest.parent}: no such directory")
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None
        self._gzip: igzip.IGzipFile | None = None
        self._file: IO[bytes] | None = None  # the archive file we opened (no `stream`)

    def __enter__(self) -> _Sink:
        if self.kind == "dir":
            self.dest.mkdir(exist_ok=True)
            return self
        if self.stream is None:
            self._file = open(self.dest, "xb")
        out = self.stream or self._file
        assert out is not None
        if self.kind == "zip":
            self._zip = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED)
        else:
            # One path for a file and a stream: gzip around a tar stream ("w|" needs no seeks).
            self._gzip = igzip.IGzipFile(fileobj=out, mode="wb", compresslevel=COMPRESS_LEVEL)
            self._tar = tarfile.open(fileobj=self._gzip, mode="w|", format=tarfile.PAX_FORMAT, bufsize=_TAR_BUFFER)
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            for closable in (self._zip, self._tar, self._gzip):
                if closable is not None:
                    closable.close()
        finally:
            if self._file is not None:
                self._file.close()
        if exc_type is not None and self._file is not None:
            self.dest.unlink(missing_ok=True)

    def mkdir(self, rel: str, mtime: float) -> None:
        if self.kind == "dir":
            (self.dest / rel).mkdir(parents=True, exist_ok=True)
        elif self._zip is not None:
            info = zipfile.ZipInfo(rel.rstrip("/") + "/", _zip_time(mtime))
            info.external_attr = (0o40755 << 16) | 0x10
            self._zip.writestr(info, b"")
        else:
            assert self._tar is not None
            tinfo = tarfile.TarInfo(rel.rstrip("/"))
            tinfo.type = tarfile.DIRTYPE
            tinfo.mode = 0o755
            tinfo.mtime = int(mtime)
            self._tar.addfile(tinfo)

    def _zip_open(self, rel: str, mtime: float, zip64: bool) -> IO[bytes]:
        """A new deflated zip entry to write, compressed by ISA-L."""
        assert self._zip is not None
        info = zipfile.ZipInfo(rel, _zip_time(mtime))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o100644 << 16
        out = self._zip.open(info, "w", force_zip64=zip64)
        # zipfile has no way to choose the deflate implementation: its writer's compressor,
        # made in open() and not used yet, is swapped for ISA-L's raw deflate.
        out._compressor = isal_zlib.compressobj(  # type: ignore[attr-defined]
            COMPRESS_LEVEL, isal_zlib.DEFLATED, -isal_zlib.MAX_WBITS)
        return out

    def add_stream(self, rel: str, size: int, mtime: float, fh: IO[bytes]) -> None:
        """A file of known size from a stream."""
        if self.kind == "dir":
            path = self.dest / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "xb") as out:
                shutil.copyfileobj(fh, out, _CHUNK)
            os.utime(path, (mtime, mtime))
        elif self._zip is not None:
            with self._zip_open(rel, mtime, zip64=size > 2**31) as out:
                shutil.copyfileobj(fh, out, _CHUNK)
        else:
            assert self._tar is not None
            tinfo = tarfile.TarInfo(rel)
            tinfo.size = size
            tinfo.mode = 0o644
            tinfo.mtime = int(mtime)
            self._tar.addfile(tinfo, fh)

    def add_writer(self, rel: str, mtime: float, write: Callable[[IO[bytes]], None]) -> None:
        """A file produced by `write(out)` (an mbox): written in place, or for a tar
        (which needs sizes first) through a temporary file."""
        if self.kind == "dir":
            path = self.dest / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "xb") as out:
                write(out)
            os.utime(path, (mtime, mtime))
        elif self._zip is not None:
            with self._zip_open(rel, mtime, zip64=True) as out:
                write(out)
        else:
            # Unique per export: several web downloads may run in one process at once.
            tmp_path = files.tmp_dir() / f"export-{os.getpid()}-{secrets.token_hex(8)}"
            try:
                with open(tmp_path, "wb") as out:
                    write(out)
                with open(tmp_path, "rb") as fh:
                    self.add_stream(rel, tmp_path.stat().st_size, mtime, fh)
            finally:
                tmp_path.unlink(missing_ok=True)


def _zip_time(mtime: float) -> tuple[int, int, int, int, int, int]:
    dt = datetime.fromtimestamp(max(mtime, 315532800), tz=UTC)  # zip dates start in 1980
    return (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second)


def _export_path(name: str) -> str:
    """A mailbox name as a relative path: "/" separates levels; "." and ".." are escaped."""
    parts = [("_" + p if p in (".", "..", "") else p) for p in name.split("/")]
    return "/".join(parts)


def export_mailboxes(
    account: Account, fmt: str, dest: Path, mailbox: str | None = None, progress: ProgressFn | None = None,
    stream: IO[bytes] | None = None,
) -> Result:
    """Export all mailboxes of `account` (or one) into a directory, .zip or .tgz; with
    `stream`, the .zip or .tgz named by `dest` is written to `stream` instead.

    mbox: one `<mailbox>.mbox` per mailbox; maildir: `<mailbox>/{cur,new,tmp}` per
    mailbox. Messages in UID order.
    """
    if fmt not in ("mbox", "maildir"):
        raise ImportExportError(f"unknown format {fmt!r}: mbox or maildir")
    mailboxes = Mailbox.objects.filter(account=account).order_by("name")
    if mailbox is not None:
        mailboxes = mailboxes.filter(name=normalize_mailbox_name(mailbox))
        if not mailboxes.exists():
            raise ImportExportError(f"account {account.name} has no mailbox {mailbox!r}")
    boxes = list(mailboxes)
    total = Message.objects.filter(mailbox__in=boxes).count()
    result = Result()
    done = 0
    with _Sink(dest, stream) as sink:
        for box in boxes:
            messages = Message.objects.filter(mailbox=box).order_by("uid")
            result.counts[box.name] = 0
            rel = _export_path(box.name)
            if progress:
                progress(Progress(box.name, done, done, total, "messages"))
            if fmt == "mbox":

                def write(out: IO[bytes], box: Mailbox = box, messages: Iterable[Message] = messages) -> None:
                    nonlocal done
                    for message in messages.iterator(chunk_size=500):  # type: ignore[attr-defined]
                        write_mbox_message(out, message)
                        done += 1
                        result.counts[box.name] += 1
                        if progress:
                            progress(Progress(box.name, done, done, total, "messages"))

                sink.add_writer(rel + ".mbox", box.created.timestamp(), write)
                continue
            mtime = box.created.timestamp()
            for sub in ("cur", "new", "tmp"):
                sink.mkdir(f"{rel}/{sub}", mtime)
            used: set[str] = set()
            for m in Message.objects.filter(mailbox=box).only("keywords", "junk", "notjunk", "phishing", "mdnsent"):
                used.update(_maildir_keywords(m))
            dovecot = sorted(used)[:26]  # todo: more than 26 keywords in one mailbox are not exported
            if dovecot:
                data = "".join(f"{i} {w}\n" for i, w in enumerate(dovecot)).encode()
                sink.add_stream(f"{rel}/dovecot-keywords", len(data), mtime, io.BytesIO(data))
            for message in messages.iterator(chunk_size=500):
                keep = [w for w in _maildir_keywords(message) if w in dovecot]
                name = maildir_filename(_with_keywords(message, keep), box.uidvalidity, dovecot)
                with _open_message(message) as fh:
                    sink.add_stream(f"{rel}/cur/{name}", message.size, message.received.timestamp(), fh)
                done += 1
                result.counts[box.name] += 1
                if progress:
                    progress(Progress(box.name, done, done, total, "messages"))
    return result


def _with_keywords(message: Message, keep: list[str]) -> Message:
    if len(keep) == len(_maildir_keywords(message)):
        return message
    message.keywords = [k for k in message.keywords if k in keep]
    for field_name in ("junk", "notjunk", "phishing", "mdnsent"):
        if Message.FLAG_NAMES[field_name] not in keep:
            setattr(message, field_name, False)
    return message


# --- one message from a stream (manage.py deliver) --------------------------------------


def deliver_stream(target: str, fh: IO[bytes], mailbox: str | None = None) -> Message:
    """Deliver the message read from `fh` to `target`: an account name (mailbox Inbox) or
    an address (its configured mailbox), or `mailbox` when given. Bare LF becomes CRLF."""
    from accounts.actions import AccountError, resolve_recipient
    from accounts.lookup import find_account

    account = Account.objects.filter(name=target).first()
    default_mailbox = "Inbox"
    if account is None and "@" in target:
        localpart, _, domain = target.rpartition("@")
        dest = resolve_recipient(localpart, domain)
        if dest is not None:
            account, default_mailbox = dest.account, dest.mailbox
    if account is None:
        try:
            account = find_account(target)
        except AccountError as exc:
            raise ImportExportError(str(exc)) from exc
    tmp = files.TempMessageFile()
    try:
        _copy_crlf(fh, tmp)
        if tmp.size == 0:
            raise ImportExportError("empty message on standard input")
        path = tmp.finish()
    except BaseException:
        tmp.discard()
        raise
    try:
        return deliver(account, mailbox or default_mailbox, path)
    finally:
        path.unlink(missing_ok=True)
