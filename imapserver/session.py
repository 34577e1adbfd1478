"""An IMAP session: state machine with one `do_<command>` method per command
(RFC 9051 section 6, RFC 3501 for IMAP4rev1 clients), independent of sockets.

The connection (imapserver.listener) gives it an `IO` to write response lines, read
continuation lines and start TLS. Database work runs through `self.db(...)`, in a thread
of the process's bounded pool (imapserver.dbpool), borrowed for that call only.
"""
from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import Callable
from enum import Enum
from typing import Any, Protocol, TypeVar

from django.db import DatabaseError

from imapserver import db
from imapserver.auth import AuthCommands
from imapserver.dbpool import pool
from imapserver.errors import CloseConnection, CommandError, bad, no
from imapserver.mailboxes import MailboxCommands
from imapserver.selected import SelectedCommands
from mailcore.imap.command import Command, parse_command, parse_tag
from mailcore.imap.errors import ParseError
from mailcore.imap.numset import compact
from mailcore.imap.response import flags as format_flags
from mailstore.models import Change
from mailstore.notify import hub
from moxweb import logging as moxlog
from moxweb import metrics

log = logging.getLogger(__name__)
T = TypeVar("T")

# mox's list, plus what moxweb adds (issue 4); LOGINDISABLED/AUTH=PLAIN/STARTTLS per connection.
APPENDLIMIT = 100 * 1024 * 1024
BASE_CAPABILITIES = (
    "IMAP4rev2 IMAP4rev1 ENABLE LITERAL+ IDLE SASL-IR BINARY UNSELECT UIDPLUS ESEARCH SEARCHRES MOVE "
    "UTF8=ACCEPT LIST-EXTENDED SPECIAL-USE LIST-STATUS AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-1 AUTH=CRAM-MD5 "
    f"ID APPENDLIMIT={APPENDLIMIT} NAMESPACE CONDSTORE QRESYNC MULTIAPPEND STATUS=SIZE CREATE-SPECIAL-USE QUOTA "
    "QUOTA=RES-STORAGE SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES"
)
# mox's system flags and well-known keywords (SELECT FLAGS / PERMANENTFLAGS).
SYSTEM_FLAGS = "\\Seen \\Answered \\Flagged \\Deleted \\Draft $Forwarded $Junk $NotJunk $Phishing $MDNSent"


class State(Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"


ANY = (State.NOT_AUTHENTICATED, State.AUTHENTICATED, State.SELECTED)
AUTHED = (State.AUTHENTICATED, State.SELECTED)
COMMAND_STATES: dict[str, tuple[State, ...]] = {
    **{c: ANY for c in ("CAPABILITY", "NOOP", "LOGOUT", "ID")},
    **{c: (State.NOT_AUTHENTICATED,) for c in ("STARTTLS", "AUTHENTICATE", "LOGIN")},
    **{c: AUTHED for c in ("ENABLE", "SELECT", "EXAMINE", "CREATE", "DELETE", "RENAME", "SUBSCRIBE",
                           "UNSUBSCRIBE", "LIST", "LSUB", "NAMESPACE", "STATUS", "APPEND", "IDLE",
                           "GETQUOTA", "GETQUOTAROOT")},
    **{c: (State.SELECTED,) for c in ("CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH", "FETCH", "STORE",
                                      "COPY", "MOVE", "SORT", "THREAD")},
}
# RFC 9051 section 7.5.1: no EXPUNGE during FETCH/STORE/SEARCH; mox sends no updates then.
NO_UPDATES = ("FETCH", "STORE", "SEARCH", "SORT", "THREAD")


class IO(Protocol):
    def write(self, data: bytes) -> None: ...

    async def flush(self) -> None: ...

    async def readline(self) -> bytes: ...

    async def starttls(self) -> None: ...

    def tls_cert_der(self) -> bytes | None: ...


class Selected:
    """The session's view of the selected mailbox: UIDs by sequence number (RFC 9051 2.3.1.2)."""

    def __init__(self, view: db.MailboxView, readonly: bool) -> None:
        self.id = view.id
        self.name = view.name
        self.uidvalidity = view.uidvalidity
        self.uids = view.uids
        self.uidnext = view.uidnext
        self.readonly = readonly
        self.keywords = list(view.keywords)

    def highest_uid_used(self) -> int:
        """The highest UID this mailbox may have had (for VANISHED ranges)."""
        return max(self.uidnext - 1, self.uids[-1] if self.uids else 0)

    def seq(self, uid: int) -> int:
        """1-based sequence number of a UID, 0 if not in the view."""
        i = bisect.bisect_left(self.uids, uid)
        return i + 1 if i < len(self.uids) and self.uids[i] == uid else 0


class Session(AuthCommands, MailboxCommands, SelectedCommands):
    def __init__(
        self, io: IO, *, tls_active: bool, starttls_available: bool, localserve: bool, remote: str = "",
        auth_failures: Any = None,
    ) -> None:
        self.io = io
        self.tls_active = tls_active
        self.starttls_available = starttls_available
        self.localserve = localserve
        self.remote = remote
        self.state = State.NOT_AUTHENTICATED
        self.account: Any = None
        self.account_id = 0
        self.username = ""
        self.selected: Selected | None = None
        self.event: asyncio.Event | None = None
        self.modseq = 0
        self.own_modseqs: set[int] = set()
        # Updates read with the command's own database job (db_then_updates), and
        # the updates_key they were read for.
        self.prefetched: tuple[tuple[int, int | None, frozenset[int]], db.Updates] | None = None
        self.enabled: set[str] = set()
        self.condstore = False
        self.qresync = False
        self.own_mailbox_names: set[str] = set()
        self.saved_result: list[int] = []
        self.first_command = True
        self.auth_failures = 0
        # The failed-login limiter shared with SMTP and the web (mailcore.ratelimit).
        self.auth_limiter = auth_failures

    # Plumbing.

    async def db(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await pool.run(func, *args, **kwargs)

    async def db_then_updates(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`func` in a pool thread and, in the same job once it returned, the untagged
        updates the command's tagged OK will send (`send_updates` uses them): one thread
        hand-off instead of two. Only for commands that do not add to `own_modseqs`
        (their own changes would be read as another session's)."""
        key = self.updates_key()

        def job() -> tuple[T, db.Updates]:
            result = func(*args, **kwargs)
            return result, db.pending_updates(self.account_id, *key)

        result, updates = await self.db(job)
        self.prefetched = (key, updates)
        return result

    def updates_key(self) -> tuple[int, int | None, frozenset[int]]:
        """What `db.pending_updates` reads the session's updates after (besides the
        account): its modseq, the selected mailbox, its own changes."""
        sel = self.selected
        return self.modseq, sel.id if sel else None, frozenset(self.own_modseqs)

    def write(self, line: bytes | str) -> None:
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.io.write(line + b"\r\n")

    def capabilities(self) -> str:
        caps = BASE_CAPABILITIES
        if self.starttls_available and not self.tls_active:
            caps += " STARTTLS"
        if self.tls_active or self.localserve:
            caps += " AUTH=PLAIN"
        else:
            caps += " LOGINDISABLED"
        return caps + self.auth_capabilities()

    def greeting(self) -> bytes:
        return f"* OK [CAPABILITY {self.capabilities()}] mox imap\r\n".encode()

    @property
    def utf8(self) -> bool:
        return "UTF8=ACCEPT" in self.enabled or "IMAP4REV2" in self.enabled

    @property
    def rev2(self) -> bool:
        return "IMAP4REV2" in self.enabled

    async def ok(self, cmd: Command, text: str | None = None, code: str | None = None) -> None:
        """The tagged OK, after pending untagged updates (unless the command forbids them)."""
        if cmd.name not in NO_UPDATES and self.state != State.NOT_AUTHENTICATED:
            await self.send_updates()
        self.own_mailbox_names.clear()
        body = text if text is not None else f"{cmd.spelled} done"
        self.write(f"{cmd.tag} OK {'[' + code + '] ' if code else ''}{body}")

    # Dispatch.

    async def execute(self, buf: bytes) -> bool:
        """Run one command; False when the connection must close."""
        try:
            cmd = parse_command(buf)
        except ParseError as exc:
            if self.first_command:
                # mox: a first line that is not IMAP is answered with BYE (protection).
                self.write("* BYE please try again speaking imap")
                return False
            tag = exc.tag or parse_tag(buf) or "*"
            if exc.code == "UNKNOWN":
                self.write(f"{tag} BAD unknown command")
            else:
                self.write(f"{tag} BAD {exc.message}")
            return True
        self.first_command = False
        metrics.IMAP_COMMANDS.labels(cmd.name.lower()).inc()
        if self.state not in COMMAND_STATES[cmd.name]:
            self.write(f"{cmd.tag} NO {cmd.spelled} not allowed in this connection state")
            return True
        handler = getattr(self, "do_" + cmd.name.lower())
        self.prefetched = None  # never another command's
        try:
            await handler(cmd)
        except CommandError as exc:
            if exc.status == "NO" and cmd.name not in NO_UPDATES and self.state != State.NOT_AUTHENTICATED:
                await self.send_updates()
            code = f"[{exc.code}] " if exc.code else ""
            self.write(f"{cmd.tag} {exc.status} {code}{exc.text}")
        except CloseConnection:
            return False
        except (ConnectionError, asyncio.TimeoutError):
            raise
        except DatabaseError:
            # The database is unreachable or locked: a temporary failure (RFC 5530
            # UNAVAILABLE). The pool thread dropped its connection; the next job reconnects.
            log.warning("imap command failed: database unavailable", exc_info=True,
                        extra={"command": cmd.name, "remote": self.remote})
            self.write(f"{cmd.tag} NO [UNAVAILABLE] temporary database error, try again later")
        except Exception:
            # A bug must not take the connection down, nor hide: log it, answer NO.
            log.exception("imap command failed", extra={"command": cmd.name, "remote": self.remote})
            self.write(f"{cmd.tag} NO [SERVERBUG] internal error")
        return True

    # Untagged updates from the change log (RFC 9051 section 5.2 and 7.4).

    async def send_updates(self) -> None:
        if not self.account_id:
            return
        sel = self.selected
        key = self.updates_key()
        prefetched, self.prefetched = self.prefetched, None
        if prefetched is not None and prefetched[0] == key:
            updates = prefetched[1]
        else:
            # One database call for the changes, the keywords and the flags they need.
            updates = await self.db(db.pending_updates, self.account_id, *key)
        if not updates.complete:
            await self._rebuild_view()
            return
        if not updates.changes:
            return
        pending_exists = False
        flag_uids: list[int] = []
        for change in updates.changes:
            self.modseq = max(self.modseq, change.modseq)
            own = change.modseq in self.own_modseqs
            self.own_modseqs.discard(change.modseq)
            if change.kind in (Change.Kind.MAILBOX_ADD, Change.Kind.MAILBOX_REMOVE, Change.Kind.MAILBOX_RENAME):
                self._mailbox_change(change)
            if sel is None or change.mailbox_id_ref != sel.id or own:
                continue
            if change.kind == Change.Kind.ADD:
                last = sel.uids[-1] if sel.uids else 0
                for uid in sorted(change.uids):
                    if uid > last:
                        sel.uids.append(uid)
                        last = uid
                        pending_exists = True
            elif change.kind == Change.Kind.EXPUNGE:
                if pending_exists:
                    self.write(f"* {len(sel.uids)} EXISTS")
                    pending_exists = False
                self._write_flags(flag_uids, updates.flags)
                flag_uids = []
                self.expunge_from_view(change.uids)
            elif change.kind == Change.Kind.FLAGS:
                flag_uids.extend(change.uids)
        if updates.keywords is not None:
            self._announce_keywords(updates.keywords)
        if pending_exists:
            self.write(f"* {len(sel.uids)} EXISTS")  # type: ignore[union-attr]
        self._write_flags(flag_uids, updates.flags)

    async def _rebuild_view(self) -> None:
        """The change log was pruned past what this session has seen
        (mailstore.changeprune): compare the selected mailbox with the view instead."""
        self.own_modseqs.clear()
        sel = self.selected
        if sel is None:
            self.modseq = await self.db(db.account_modseq, self.account_id)
            return
        state = await self.db(db.view_state, self.account_id, sel.id, self.modseq)
        self.modseq = state.account_modseq
        now = set(state.uids)
        self.expunge_from_view([u for u in sel.uids if u not in now])
        last = sel.uids[-1] if sel.uids else 0
        added = [u for u in state.uids if u > last]
        if added:
            sel.uids.extend(added)
            self.write(f"* {len(sel.uids)} EXISTS")
        await self.check_keywords()
        await self._flush_flags([uid for uid, _, _ in state.changed if uid <= last])

    async def check_keywords(self) -> None:
        """RFC 9051 7.3.5: a new keyword in the mailbox is announced with FLAGS."""
        sel = self.selected
        if sel is None:
            return
        self._announce_keywords(await self.db(db.mailbox_keywords, sel.id))

    def _announce_keywords(self, keywords: list[str]) -> None:
        sel = self.selected
        if sel is not None and keywords != sel.keywords:
            sel.keywords = keywords
            self.write(f"* FLAGS ({SYSTEM_FLAGS}{''.join(' ' + k for k in keywords)})")

    def _mailbox_change(self, change: db.ChangeRow) -> None:
        """mox: LIST responses for mailboxes created, renamed or removed elsewhere."""
        from mailcore.imap.response import mailbox as format_mailbox

        data = change.data or {}
        name = data.get("name")
        if not name:
            return
        # Mailboxes this session changed itself were answered by its own command.
        if any(name == n or name.startswith(n + "/") for n in self.own_mailbox_names):
            return
        if change.kind == Change.Kind.MAILBOX_ADD:
            self.write(b'* LIST () "/" ' + format_mailbox(name, utf8=self.utf8))
        elif change.kind == Change.Kind.MAILBOX_REMOVE:
            self.write(b'* LIST (\\NonExistent) "/" ' + format_mailbox(name, utf8=self.utf8))
        elif change.kind == Change.Kind.MAILBOX_RENAME and data.get("old"):
            # RFC 5258 section 3.1: OLDNAME extended data.
            self.write(b'* LIST () "/" ' + format_mailbox(name, utf8=self.utf8) + b' ("OLDNAME" ('
                       + format_mailbox(data["old"], utf8=self.utf8) + b"))")

    def expunge_from_view(self, uids: list[int]) -> None:
        sel = self.selected
        assert sel is not None
        if self.qresync:
            # RFC 7162 section 3.2.10: QRESYNC sessions get VANISHED instead of EXPUNGE.
            gone = [u for u in sorted(uids) if sel.seq(u)]
            for uid in reversed(gone):
                del sel.uids[sel.seq(uid) - 1]
            if gone:
                self.write(f"* VANISHED {compact(gone)}")
            return
        # Highest sequence numbers first so the numbers sent stay valid as we go.
        for uid in sorted(uids, reverse=True):
            seq = sel.seq(uid)
            if seq:
                del sel.uids[seq - 1]
                self.write(f"* {seq} EXPUNGE")

    async def _flush_flags(self, uids: list[int]) -> None:
        sel = self.selected
        if not uids or sel is None:
            return
        wanted = sorted({u for u in uids if sel.seq(u)})
        if wanted:
            self._write_flags(wanted, await self.db(db.current_flags, sel.id, wanted))

    def _write_flags(self, uids: list[int], current: dict[int, tuple[list[str], int]]) -> None:
        """Untagged FETCH FLAGS for the messages still in the view (RFC 9051 7.5.2)."""
        sel = self.selected
        if not uids or sel is None:
            return
        for uid in sorted(set(uids)):
            if uid in current and sel.seq(uid):
                flags, modseq = current[uid]
                extra = f" MODSEQ ({modseq})" if self.condstore else ""
                self.write(b"* %d FETCH (UID %d%s FLAGS " % (sel.seq(uid), uid, extra.encode()) + format_flags(flags) + b")")

    # Commands valid in any state (RFC 9051 section 6.1).

    async def do_capability(self, cmd: Command) -> None:
        self.write(f"* CAPABILITY {self.capabilities()}")
        await self.ok(cmd)

    async def do_noop(self, cmd: Command) -> None:
        await self.ok(cmd)

    async def do_logout(self, cmd: Command) -> None:
        self.write("* BYE thanks")
        self.write(f"{cmd.tag} OK {cmd.spelled} done")
        raise CloseConnection()

    async def do_id(self, cmd: Command) -> None:
        # RFC 2971: log the client's parameters, name ourselves.
        log.info("imap client id", extra={"params": cmd.args["params"], "remote": self.remote})
        self.write('* ID ("name" "mox" "version" "moxweb")')
        await self.ok(cmd)

    async def do_idle(self, cmd: Command) -> None:
        """RFC 2177 / RFC 9051 6.3.13: push updates until the client sends DONE."""
        await self.send_updates()
        self.write("+ waiting")
        await self.io.flush()
        assert self.event is not None
        read = asyncio.ensure_future(self.io.readline())
        try:
            while True:
                wake = asyncio.ensure_future(self.event.wait())
                done, _ = await asyncio.wait({read, wake}, return_when=asyncio.FIRST_COMPLETED)
                if wake in done:
                    self.event.clear()
                    await self.send_updates()
                    await self.io.flush()
                else:
                    wake.cancel()
                if read in done:
                    break
        finally:
            if not read.done():
                read.cancel()
        line = read.result()
        if line.upper() != b"DONE":
            self.write(f"{cmd.tag} BAD expected DONE")
            raise CloseConnection()
        await self.ok(cmd, "idle done")

    # Login completion, shared by LOGIN and AUTHENTICATE.

    async def logged_in(self, account: Any) -> None:
        if self.auth_limiter is not None and self.remote:
            self.auth_limiter.reset(self.remote)
        self.account = account
        moxlog.bind(account=account.name)
        self.account_id = account.pk
        self.state = State.AUTHENTICATED
        self.event = hub.subscribe(account.pk)
        self.modseq = await self.db(db.account_modseq, account.pk)

    def close(self) -> None:
        if self.event is not None:
            hub.unsubscribe(self.account_id, self.event)
            self.event = None

    def require_writable(self) -> Selected:
        sel = self.selected
        assert sel is not None
        if sel.readonly:
            raise no("mailbox open in read-only mode", "READ-ONLY")
        return sel

    def check_parse(self, ok: bool, text: str) -> None:
        if not ok:
            raise bad(text)
