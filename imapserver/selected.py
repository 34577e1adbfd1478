"""Commands of the selected state (RFC 9051 section 6.4): CHECK, CLOSE, UNSELECT
(RFC 3691), EXPUNGE, UID EXPUNGE (RFC 4315), SEARCH (RFC 4731 ESEARCH, RFC 5182
SEARCHRES), FETCH, STORE (RFC 7162 UNCHANGEDSINCE), COPY, MOVE (RFC 6851), SORT (RFC 5256)."""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from imapserver import db
from imapserver import search as searching
from imapserver.errors import bad, no
from imapserver.fetch import FetchError, fetch_responses
from mailcore.imap.command import Command
from mailcore.imap.fetchatt import FetchAtt
from mailcore.imap.numset import NumSet, compact, compact_ordered, vanished
from mailcore.imap.response import flags as format_flags
from mailcore.imap.searchkey import Key
from mailcore.imap.sortkeys import address_key
from mailcore.imap.thread import base_subject, format_threads, ordered_subject, references
from imapserver.rows import BASE_FIELDS, CONTENT_FIELDS, SUMMARY_FIELDS, Row, rows_of, thread_messages
from mailstore.models import Message

# Messages per chunk of a large FETCH's answer.
FETCH_CHUNK = 5000

if TYPE_CHECKING:
    from imapserver.session import Session


def _load_messages(mailbox_id: int, uids: list[int], *, content: bool, changedsince: int | None) -> list[Row]:
    fields = BASE_FIELDS + SUMMARY_FIELDS + (CONTENT_FIELDS if content else ())
    return rows_of(mailbox_id, uids, fields, changedsince=changedsince)


def _key_has_modseq(key: Key) -> bool:
    if key[0] == "MODSEQ":
        return True
    return any(_key_has_modseq(k) for k in key[1:] if isinstance(k, tuple)) or (
        key[0] == "AND" and any(_key_has_modseq(k) for k in key[1])
    )


class SelectedCommands:
    def resolve(self: Session, numset: NumSet, uid: bool) -> list[tuple[int, int]]:
        """(seq, uid) pairs of a sequence set (RFC 9051 section 9 `sequence-set`)."""
        sel = self.selected
        assert sel is not None
        if numset.search_result:
            uids = sorted(u for u in self.saved_result if sel.seq(u))
            return [(sel.seq(u), u) for u in uids]
        if uid:
            return numset.select_positions(sel.uids, sel.uids[-1] if sel.uids else 0)
        n = len(sel.uids)
        for a, b in numset.ranges:
            if (a is not None and a > n) or (b is not None and b > n) or (n == 0):
                raise bad("invalid sequence number")
        return [(i, sel.uids[i - 1]) for i in numset.select(range(1, n + 1), n)]

    async def do_check(self: Session, cmd: Command) -> None:
        await self.ok(cmd)

    async def do_close(self: Session, cmd: Command) -> None:
        from imapserver.session import State
        from mailstore import actions

        sel = self.selected
        assert sel is not None
        if not sel.readonly:
            # RFC 9051 6.4.1: expunge silently, no untagged EXPUNGE.
            uids, modseq = await self.db(actions.expunge, self.account_id, sel.id, None)
            if uids:
                self.own_modseqs.add(modseq)
        self.selected = None
        self.state = State.AUTHENTICATED
        await self.ok(cmd)

    async def do_unselect(self: Session, cmd: Command) -> None:
        from imapserver.session import State

        self.selected = None
        self.state = State.AUTHENTICATED
        await self.ok(cmd)

    async def do_expunge(self: Session, cmd: Command) -> None:
        from mailstore import actions

        sel = self.require_writable()
        only = [u for _, u in self.resolve(cmd.args["set"], True)] if cmd.uid else None
        if only == []:
            await self.ok(cmd)
            return
        uids, modseq = await self.db(actions.expunge, self.account_id, sel.id, only)
        if uids:
            self.own_modseqs.add(modseq)
        self.expunge_from_view(uids)
        await self.ok(cmd)

    def _fetch_sync(self: Session, mailbox_id: int, pairs: list[tuple[int, int]], cmd: Command) -> list[bytes]:
        from mailstore import actions

        req = cmd.args["request"]
        sel = self.selected
        assert sel is not None
        flags_changed: set[int] = set()
        if any(a.sets_seen for a in req.atts) and not sel.readonly and pairs:
            uids = [u for _, u in pairs]
            unseen = list(
                Message.objects.filter(mailbox_id=mailbox_id, uid__gte=uids[0], uid__lte=uids[-1], seen=False)
                .values_list("uid", flat=True)
            )
            wanted = set(uids)
            unseen = [u for u in unseen if u in wanted]
            if unseen:
                result = actions.set_flags(self.account_id, mailbox_id, unseen, "add", ["\\Seen"])
                if result.changed:
                    self.own_modseqs.add(result.modseq)
                    flags_changed = set(result.changed)
        return fetch_responses(
            mailbox_id, pairs, req, uid_command=cmd.uid, condstore=self.condstore, flags_changed=flags_changed
        )

    async def do_fetch(self: Session, cmd: Command) -> None:
        sel = self.selected
        assert sel is not None
        req = cmd.args["request"]
        if req.changedsince is not None or any(a.name == "MODSEQ" for a in req.atts):
            # RFC 7162 section 3.1: CHANGEDSINCE and MODSEQ enable CONDSTORE.
            self.condstore = True
        pairs = self.resolve(cmd.args["set"], cmd.uid)
        if req.vanished:
            # RFC 7162 section 3.2.6: UID FETCH ... (CHANGEDSINCE m VANISHED).
            if not (cmd.uid and self.qresync and req.changedsince is not None):
                raise bad("VANISHED needs UID FETCH, QRESYNC and CHANGEDSINCE")
            expunged, _ = await self.db(db.changes_since_for_mailbox, self.account_id, sel.id, req.changedsince)
            uids = vanished(expunged, sel.uids, cmd.args["set"], sel.highest_uid_used())
            if uids:
                self.write(f"* VANISHED (EARLIER) {uids}")
        # A large FETCH is answered in chunks, each sent as soon as it is built, while a
        # database thread builds the next, so the client reads one while the next is
        # made (not when it sets \Seen: one change).
        step = (len(pairs) if any(a.sets_seen for a in req.atts) else FETCH_CHUNK) or 1
        chunks = [pairs[start:start + step] for start in range(0, len(pairs), step)]
        pending: asyncio.Future[list[bytes]] | None = None
        try:
            for i, chunk in enumerate(chunks):
                current = pending or asyncio.ensure_future(self.db(self._fetch_sync, sel.id, chunk, cmd))
                pending = None
                try:
                    lines = await current
                except FetchError as exc:
                    raise no(str(exc), exc.code or None) from exc
                if i + 1 < len(chunks):
                    pending = asyncio.ensure_future(self.db(self._fetch_sync, sel.id, chunks[i + 1], cmd))
                if lines:
                    # One write per chunk: a line at a time was a tenth of a 100,000-line answer.
                    self.io.write(b"\r\n".join(lines) + b"\r\n")
                if pending is not None:
                    await self.io.flush()
        finally:
            if pending is not None:
                pending.cancel()
        await self.ok(cmd)

    async def do_store(self: Session, cmd: Command) -> None:
        from mailstore import actions

        sel = self.require_writable()
        args = cmd.args
        if args["unchangedsince"] is not None:
            self.condstore = True
        pairs = self.resolve(args["set"], cmd.uid)
        for flag in args["flags"]:
            if flag.startswith("\\") and flag.lower() not in Message.SYSTEM_FLAGS:
                raise bad(f"unknown system flag {flag}")
        uids = [u for _, u in pairs]
        if not uids:
            await self.ok(cmd)
            return
        result = await self.db(
            actions.set_flags, self.account_id, sel.id, uids, args["mode"], args["flags"],
            unchangedsince=args["unchangedsince"],
        )
        if result.changed:
            self.own_modseqs.add(result.modseq)
            await self.check_keywords()
        changed = set(result.changed)
        for uid, flags, modseq in result.updated:
            seq = sel.seq(uid)
            # RFC 7162 section 3.1.3: with CONDSTORE, changed messages report MODSEQ even if .SILENT.
            if not seq or (args["silent"] and not (self.condstore and uid in changed)):
                continue
            items = []
            if cmd.uid:
                items.append(b"UID %d" % uid)
            if self.condstore:
                items.append(b"MODSEQ (%d)" % modseq)
            if not args["silent"]:
                items.append(b"FLAGS " + format_flags(flags))
            self.write(b"* %d FETCH (" % seq + b" ".join(items) + b")")
        if result.modified:
            # RFC 7162 section 3.1.3: MODIFIED lists what failed the UNCHANGEDSINCE test.
            modified = result.modified if cmd.uid else [sel.seq(u) for u in result.modified]
            await self.ok(cmd, "conditional store did not change all messages", f"MODIFIED {compact(modified)}")
            return
        await self.ok(cmd)

    async def _copy_or_move(self: Session, cmd: Command, move: bool) -> None:
        from mailstore import actions

        sel = self.require_writable() if move else self.selected
        assert sel is not None
        dest = self.mailbox_name(cmd.args["mailbox"])
        uids = [u for _, u in self.resolve(cmd.args["set"], cmd.uid)]
        if not uids:
            await self.ok(cmd)
            return
        try:
            result = await self.db(_copy_or_move, move, self.account_id, sel.id, uids, dest)
        except actions.MailboxNotFound as exc:
            raise no("mailbox does not exist", "TRYCREATE") from exc
        except actions.QuotaExceeded as exc:
            raise no("over quota", "OVERQUOTA") from exc
        except actions.StoreError as exc:
            raise no(str(exc), "CANNOT") from exc
        copyuid = (
            f"COPYUID {result.uidvalidity} {compact_ordered(result.source_uids)} {compact_ordered(result.dest_uids)}"
        )
        if not move:
            await self.ok(cmd, code=copyuid if result.dest_uids else None)
            return
        self.own_modseqs.add(result.expunge_modseq)
        # RFC 6851 section 4.3: untagged COPYUID, then the EXPUNGEs.
        if result.dest_uids:
            self.write(f"* OK [{copyuid}] moved")
        self.expunge_from_view(result.source_uids)
        await self.ok(cmd)

    async def do_copy(self: Session, cmd: Command) -> None:
        await self._copy_or_move(cmd, False)

    async def do_move(self: Session, cmd: Command) -> None:
        await self._copy_or_move(cmd, True)

    async def do_search(self: Session, cmd: Command) -> None:
        sel = self.selected
        assert sel is not None
        req = cmd.args["request"]
        if req.charset not in (None, "US-ASCII", "UTF-8"):
            raise no("unsupported charset", "BADCHARSET (US-ASCII UTF-8)")
        uids = await self.db(searching.search, sel.id, list(sel.uids), req.key, list(self.saved_result))
        if req.save:
            self.saved_result = uids
        numbers = uids if cmd.uid else [sel.seq(u) for u in uids]
        opts = req.return_opts
        if opts is None and not self.rev2:
            line = "* SEARCH" + "".join(f" {n}" for n in numbers)
            if _key_has_modseq(req.key) and numbers:
                # RFC 7162 section 3.1.5: the highest modseq of the matches.
                line += f" (MODSEQ {await self._highest_modseq(sel.id, uids)})"
            self.write(line)
        elif opts != ["SAVE"]:
            opts = opts or ["ALL"]
            if opts == []:
                opts = ["ALL"]
            parts = [f'* ESEARCH (TAG "{cmd.tag}")']
            if cmd.uid:
                parts.append("UID")
            if "MIN" in opts and numbers:
                parts.append(f"MIN {min(numbers)}")
            if "MAX" in opts and numbers:
                parts.append(f"MAX {max(numbers)}")
            if "COUNT" in opts:
                parts.append(f"COUNT {len(numbers)}")
            if "ALL" in opts and numbers:
                parts.append(f"ALL {compact(numbers)}")
            self.write(" ".join(parts))
        await self.ok(cmd)

    async def _highest_modseq(self: Session, mailbox_id: int, uids: list[int]) -> int:
        def query() -> int:
            rows = Message.objects.filter(mailbox_id=mailbox_id, uid__in=uids[:1000]).values_list("modseq", flat=True)
            return max(rows, default=0)

        return await self.db(query)

    async def do_sort(self: Session, cmd: Command) -> None:
        sel = self.selected
        assert sel is not None
        req = cmd.args["request"]
        if req.charset not in ("US-ASCII", "UTF-8"):
            raise no("unsupported charset", "BADCHARSET (US-ASCII UTF-8)")
        uids = await self.db(searching.search, sel.id, list(sel.uids), req.key, list(self.saved_result))
        ordered = await self.db(_sort_uids, sel.id, uids, req.criteria)
        numbers = ordered if cmd.uid else [sel.seq(u) for u in ordered]
        self.write("* SORT" + "".join(f" {n}" for n in numbers))
        await self.ok(cmd)

    async def do_thread(self: Session, cmd: Command) -> None:
        """RFC 5256 THREAD=ORDEREDSUBJECT and THREAD=REFERENCES."""
        sel = self.selected
        assert sel is not None
        algorithm = cmd.args["algorithm"]
        if algorithm not in ("ORDEREDSUBJECT", "REFERENCES"):
            raise bad("unsupported threading algorithm")
        if cmd.args["charset"] not in ("US-ASCII", "UTF-8"):
            raise no("unsupported charset", "BADCHARSET (US-ASCII UTF-8)")
        uids = await self.db(searching.search, sel.id, list(sel.uids), cmd.args["key"], list(self.saved_result))
        infos = await self.db(thread_messages, sel.id, uids, algorithm == "REFERENCES")
        if not cmd.uid:
            for info in infos:
                info.number = sel.seq(info.number)
        roots = ordered_subject(infos) if algorithm == "ORDEREDSUBJECT" else references(infos)
        self.write("* THREAD " + format_threads(roots) if roots else "* THREAD")
        await self.ok(cmd)


def _copy_or_move(move: bool, account_id: int, mailbox_id: int, uids: list[int], dest: str) -> Any:
    # The account as it is now (quota, junk settings), not as it was at login.
    from accounts.models import Account
    from mailstore import actions

    verb = actions.move if move else actions.copy
    return verb(Account.objects.get(pk=account_id), mailbox_id, uids, dest)


_ADDRESS_CRITERIA = ("FROM", "TO", "CC", "DISPLAYFROM", "DISPLAYTO")


def _sort_uids(mailbox_id: int, uids: list[int], criteria: list[tuple[str, bool]]) -> list[int]:
    # The address criteria read the envelope kept in the structure (`parsed`).
    by_address = any(crit in _ADDRESS_CRITERIA for crit, _ in criteria)
    rows = {m.uid: m for m in _load_messages(mailbox_id, uids, content=by_address, changedsince=None)}
    ordered = [u for u in uids if u in rows]
    ordered.sort()  # ties are broken by sequence number, i.e. UID order
    for crit, reverse in reversed(criteria):
        def keyf(uid: int, crit: str = crit) -> Any:
            m = rows[uid]
            if crit == "ARRIVAL":
                return m.received
            if crit == "DATE":
                return m.sent_date or m.received
            if crit == "SIZE":
                return m.size
            if crit == "SUBJECT":
                return base_subject(m.subject)  # RFC 5256 section 2.1
            if crit in _ADDRESS_CRITERIA:
                return address_key(m.parsed.get("env"), crit)
            return ""

        ordered.sort(key=keyf, reverse=reverse)
    return ordered


__all__ = ["SelectedCommands", "FetchAtt"]
