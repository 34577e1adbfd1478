"""Commands of the authenticated state (RFC 9051 section 6.3): ENABLE, SELECT/EXAMINE,
CREATE, DELETE, RENAME, (UN)SUBSCRIBE, LIST (RFC 5258, 5819, 6154), LSUB, NAMESPACE
(RFC 2342), STATUS, APPEND (RFC 4315 APPENDUID, RFC 3502 MULTIAPPEND), GETQUOTA(ROOT)
(RFC 9208)."""
from __future__ import annotations

import errno
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imapserver import db
from imapserver.errors import bad, no
from mailcore.imap import utf7
from mailcore.imap.command import Command
from mailcore.imap.errors import ParseError
from mailcore.imap.listing import ListRequest, list_entries
from mailcore.imap.numset import compact, vanished
from mailcore.imap.response import mailbox as format_mailbox
from mailcore.imap.response import flags as format_flags
from mailcore.imap.response import paren

if TYPE_CHECKING:
    from imapserver.session import Session

_SPECIAL_USE = {"\\archive": "\\Archive", "\\drafts": "\\Drafts", "\\junk": "\\Junk", "\\sent": "\\Sent",
                "\\trash": "\\Trash"}


def _normalize_pattern(pattern: str) -> str:
    if pattern[:5].lower() == "inbox" and (len(pattern) == 5 or pattern[5] in "/*%"):
        return "Inbox" + pattern[5:]
    return pattern


def _append_all(account: Any, name: str, sources: list[bytes | Path], messages: list[Any]) -> list[Any]:
    """RFC 3502: every message of the command, or none (mailstore.multiappend)."""
    from mailstore import files
    from mailstore.multiappend import AppendItem, append_all

    temps: list[Path] = []
    try:
        # The account as it is now: its quota or junk settings may have changed since login.
        fresh = db.load_one(type(account), "id", account.pk)
        if fresh is None:
            raise type(account).DoesNotExist(f"account {account.pk} is gone")
        account = fresh
        items = []
        for source, message in zip(sources, messages):
            if not isinstance(source, Path):
                source = files.write_temp(source)
                temps.append(source)
            flags = list(message.flags)
            items.append(AppendItem(source, set(flags), [f for f in flags if not f.startswith("\\")], message.date))
        return append_all(account, name, items)
    finally:
        for path in temps + [s for s in sources if isinstance(s, Path)]:
            path.unlink(missing_ok=True)


def _updates_then_open(
    account_id: int, key: tuple[int, int | None, frozenset[int]], name: str
) -> tuple[db.Updates, db.MailboxView | None]:
    return db.pending_updates(account_id, *key), db.open_mailbox(account_id, name)


class MailboxCommands:
    def mailbox_name(self: Session, raw: str) -> str:
        """Decode a client's mailbox name: modified UTF-7 unless UTF-8 was enabled, then
        INBOX in any case becomes "Inbox" (mox)."""
        from mailstore.actions import normalize_mailbox_name

        try:
            raw.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise bad("invalid utf-8 in mailbox name") from exc
        if not self.utf8 and "&" in raw:
            try:
                raw = utf7.decode(raw)
            except ParseError as exc:
                raise bad(exc.message) from exc
        return normalize_mailbox_name(raw)

    def fmt_mailbox(self: Session, name: str) -> bytes:
        return format_mailbox(name, utf8=self.utf8)

    async def do_enable(self: Session, cmd: Command) -> None:
        # RFC 5161; we recognize IMAP4rev2 (RFC 9051), UTF8=ACCEPT (RFC 6855), CONDSTORE (RFC 7162).
        enabled = []
        for cap in cmd.args["capabilities"]:
            if cap in ("IMAP4REV2", "UTF8=ACCEPT", "CONDSTORE", "QRESYNC") and cap not in self.enabled:
                self.enabled.add(cap)
                enabled.append({"IMAP4REV2": "IMAP4rev2"}.get(cap, cap))
                if cap in ("CONDSTORE", "QRESYNC"):
                    # RFC 7162 section 3.2.3: QRESYNC implies CONDSTORE.
                    self.condstore = True
                if cap == "QRESYNC":
                    self.qresync = True
        self.write("* ENABLED" + "".join(" " + c for c in enabled))
        await self.ok(cmd)

    async def do_select(self: Session, cmd: Command) -> None:
        await self._select(cmd, readonly=False)

    async def do_examine(self: Session, cmd: Command) -> None:
        await self._select(cmd, readonly=True)

    async def _select(self: Session, cmd: Command, *, readonly: bool) -> None:
        from imapserver.session import SYSTEM_FLAGS, Selected, State

        name = self.mailbox_name(cmd.args["mailbox"])
        if cmd.args.get("qresync") and not self.qresync:
            raise bad("enable QRESYNC first")
        if self.selected is not None:
            # RFC 7162 3.2.11 / RFC 9051 6.3.2: the previous mailbox is closed.
            self.selected = None
            self.state = State.AUTHENTICATED
            self.write("* OK [CLOSED] x")
        if cmd.args.get("condstore"):
            self.condstore = True
        # One job: the updates due before the new mailbox is opened, then the opening.
        key = self.updates_key()
        updates, view = await self.db(_updates_then_open, self.account_id, key, name)
        self.prefetched = (key, updates)
        await self.send_updates()
        if view is None:
            raise no("no such mailbox", "NONEXISTENT")
        # Changes after the snapshot's modseq are replayed; duplicates are ignored there.
        self.modseq = min(self.modseq, view.account_modseq) if self.modseq else view.account_modseq
        self.selected = Selected(view, readonly)
        self.state = State.SELECTED
        keywords = "".join(" " + k for k in view.keywords)
        self.write(f"* FLAGS ({SYSTEM_FLAGS}{keywords})")
        if readonly:
            self.write("* OK [PERMANENTFLAGS ()] x")
        else:
            self.write(f"* OK [PERMANENTFLAGS ({SYSTEM_FLAGS} \\*)] x")
        if not self.rev2:
            self.write("* 0 RECENT")
        self.write(f"* {len(view.uids)} EXISTS")
        if not self.rev2 and view.first_unseen:
            self.write(f"* OK [UNSEEN {view.first_unseen}] x")
        self.write(f"* OK [UIDVALIDITY {view.uidvalidity}] x")
        self.write(f"* OK [UIDNEXT {view.uidnext}] x")
        if self.condstore:
            self.write(f"* OK [HIGHESTMODSEQ {view.highest_modseq}] x")
        self.write(b'* LIST () "/" ' + self.fmt_mailbox(view.name))
        qresync = cmd.args.get("qresync")
        if qresync and qresync[0] == view.uidvalidity:
            await self._resync(qresync[1], qresync[2])
        self.write(f"{cmd.tag} OK [{'READ-ONLY' if readonly else 'READ-WRITE'}] x")

    async def _resync(self: Session, modseq: int, known: Any) -> None:
        """RFC 7162 section 3.2.5.2: what changed since the client's modseq."""
        sel = self.selected
        assert sel is not None
        expunged, changed = await self.db(db.changes_since_for_mailbox, self.account_id, sel.id, modseq)
        uids = vanished(expunged, sel.uids, known, sel.highest_uid_used())
        if uids:
            self.write(f"* VANISHED (EARLIER) {uids}")
        for uid, flags, ms in changed:
            seq = sel.seq(uid)
            if seq:
                self.write(b"* %d FETCH (UID %d FLAGS " % (seq, uid) + format_flags(flags) + b" MODSEQ (%d))" % ms)

    async def do_create(self: Session, cmd: Command) -> None:
        from mailstore import actions

        name = self.mailbox_name(cmd.args["mailbox"]).rstrip("/") if cmd.args["mailbox"] != "/" else "/"
        use = ""
        for flag in cmd.args["use"]:
            if flag.lower() not in _SPECIAL_USE:
                raise no("unsupported special-use flag", "USEATTR")
            use = _SPECIAL_USE[flag.lower()]
        try:
            created = await self.db(actions.create_mailbox, self.account, name, special_use=use)
        except actions.MailboxExists as exc:
            raise no(str(exc), "ALREADYEXISTS") from exc
        except actions.StoreError as exc:
            raise no(str(exc), "CANNOT") from exc
        for n in created:
            self.write(b"* LIST (\\Subscribed) \"/\" " + self.fmt_mailbox(n))
        self.own_mailbox_names.update(created)
        await self.ok(cmd)

    async def do_delete(self: Session, cmd: Command) -> None:
        from mailstore import actions

        name = self.mailbox_name(cmd.args["mailbox"])
        try:
            self.own_mailbox_names.add(name)
            await self.db(actions.delete_mailbox, self.account, name)
        except actions.MailboxNotFound as exc:
            raise no("no such mailbox", "NONEXISTENT") from exc
        except actions.StoreError as exc:
            raise no(str(exc), "HASCHILDREN" if "children" in str(exc) else "CANNOT") from exc
        await self.ok(cmd)

    async def do_rename(self: Session, cmd: Command) -> None:
        from mailstore import actions

        old = self.mailbox_name(cmd.args["mailbox"])
        new = self.mailbox_name(cmd.args["new"])
        try:
            self.own_mailbox_names.update((new, new.split("/")[0]))
            await self.db(actions.rename_mailbox, self.account, old, new)
        except actions.MailboxNotFound as exc:
            raise no("no such mailbox", "NONEXISTENT") from exc
        except actions.MailboxExists as exc:
            raise no(str(exc), "ALREADYEXISTS") from exc
        except actions.StoreError as exc:
            raise no(str(exc), "CANNOT") from exc
        await self.ok(cmd)

    async def do_subscribe(self: Session, cmd: Command) -> None:
        from mailstore import actions

        await self.db(actions.subscribe, self.account, self.mailbox_name(cmd.args["mailbox"]))
        await self.ok(cmd)

    async def do_unsubscribe(self: Session, cmd: Command) -> None:
        from mailstore import actions

        try:
            await self.db(actions.unsubscribe, self.account, self.mailbox_name(cmd.args["mailbox"]))
        except actions.StoreError as exc:
            raise no(str(exc)) from exc
        await self.ok(cmd)

    async def do_namespace(self: Session, cmd: Command) -> None:
        self.write('* NAMESPACE (("" "/")) NIL NIL')
        await self.ok(cmd)

    async def _list(self: Session, cmd: Command, *, lsub: bool) -> None:
        args = cmd.args
        reference = args["reference"]
        patterns = [_normalize_pattern(self.mailbox_name(reference) + p if reference else p) for p in args["patterns"]]
        if not lsub and patterns == [""]:
            # RFC 9051 6.3.9: an empty pattern asks for the hierarchy delimiter.
            self.write('* LIST (\\Noselect) "/" ""')
            await self.ok(cmd)
            return
        select_opts = set(args.get("select_opts", []))
        return_opts = set(args.get("return_opts", []))
        req = ListRequest(
            tuple(patterns), subscribed="SUBSCRIBED" in select_opts, special_use="SPECIAL-USE" in select_opts,
            recursive="RECURSIVEMATCH" in select_opts, return_subscribed="SUBSCRIBED" in return_opts,
            return_children="CHILDREN" in return_opts, lsub=lsub,
        )
        mailboxes, subs = await self.db(db.list_mailboxes, self.account_id)
        kind = b"LSUB" if lsub else b"LIST"
        for entry in list_entries(req, {m.name: m.special_use for m in mailboxes}, subs):
            line = b"* " + kind + b" (" + " ".join(entry.attributes).encode() + b') "/" ' + self.fmt_mailbox(entry.name)
            if entry.childinfo:
                # RFC 5258 section 4: childinfo-extended-item.
                line += b' ("CHILDINFO" (' + b" ".join(b'"%s"' % c.encode() for c in entry.childinfo) + b"))"
            self.write(line)
            if entry.selectable and args.get("status") and not lsub:
                await self._write_status(entry.name, args["status"])
        await self.ok(cmd)

    async def do_list(self: Session, cmd: Command) -> None:
        await self._list(cmd, lsub=False)

    async def do_lsub(self: Session, cmd: Command) -> None:
        await self._list(cmd, lsub=True)

    async def _write_status(self: Session, name: str, atts: list[str]) -> bool:
        from imapserver.session import APPENDLIMIT

        status = await self.db(db.mailbox_status, self.account_id, name)
        if status is None:
            return False
        status["APPENDLIMIT"] = APPENDLIMIT
        items = [f"{a} {status[a]}".encode() for a in atts]
        self.write(b"* STATUS " + self.fmt_mailbox(name) + b" " + paren(items))
        return True

    async def do_status(self: Session, cmd: Command) -> None:
        name = self.mailbox_name(cmd.args["mailbox"])
        if not await self._write_status(name, cmd.args["atts"]):
            raise no("no such mailbox", "NONEXISTENT")
        await self.ok(cmd)

    async def do_append(self: Session, cmd: Command) -> None:
        from mailstore import actions

        name = self.mailbox_name(cmd.args["mailbox"])
        spooled = getattr(self.io, "spooled", {})
        sources: list[bytes | Path] = []
        for message in cmd.args["messages"]:
            sources.append(spooled.pop(message.data) if message.binary and message.data in spooled else message.data)
        try:
            rows = await self.db_then_updates(_append_all, self.account, name, sources, cmd.args["messages"])
        except actions.MailboxNotFound as exc:
            raise no("mailbox does not exist", "TRYCREATE") from exc
        except actions.QuotaExceeded as exc:
            raise no("over quota", "OVERQUOTA") from exc
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            # As the listener answers a literal it could not spool; nothing was stored.
            raise no("insufficient storage space") from exc
        uids = [row.uid for row in rows]
        await self.ok(cmd, code=f"APPENDUID {rows[0].mailbox.uidvalidity} {compact(uids)}")

    async def do_getquotaroot(self: Session, cmd: Command) -> None:
        name = self.mailbox_name(cmd.args["mailbox"])
        self.write(b'* QUOTAROOT ' + self.fmt_mailbox(name) + b' ""')
        await self._write_quota()
        await self.ok(cmd)

    async def do_getquota(self: Session, cmd: Command) -> None:
        if cmd.args["root"] != "":
            raise no("no such quota root", "NONEXISTENT")
        await self._write_quota()
        await self.ok(cmd)

    async def _write_quota(self: Session) -> None:
        # RFC 9208 section 5.1: STORAGE in units of 1024 octets.
        used, limit = await self.db(db.quota_usage, self.account_id)
        if limit:
            self.write(f'* QUOTA "" (STORAGE {(used + 1023) // 1024} {limit // 1024})')
