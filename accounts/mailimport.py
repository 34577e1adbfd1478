"""Mailbox imports from the account pages, run in the background with their progress
in a small JSON file that the page polls (`/account/import/<job>/progress.json`).

An import runs in a thread of the web process, not as a django-q2 task: the cluster's
task timeout (300 s) would kill a large import, and localserve may run without the
worker. The job file, not memory, holds the state, so any process can answer the
progress request; a job whose thread died with its process (no heartbeat for
`STALE_SECONDS`) is reported as interrupted. Messages delivered before an error or an
interruption stay (importexport commits them in batches of up to 64 whole messages; a
process killed midway loses its last, uncommitted batch, which its count may include).

The account holder can stop a running import: the page leaves a `<job>.abort` file
beside the job file (seen by the thread in whichever process runs it), and the import
ends before its next message, as "aborted" with the count imported so far.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

from django.db import close_old_connections, connection

from accounts.models import Account
from mailstore import files, gmaillabels
from mailstore.importexport import ImportExportError, Progress, archive_kind, import_mailboxes, map_mailbox_name

log = logging.getLogger(__name__)

# Seconds between job file writes while importing, and without one before a running
# job counts as interrupted.
WRITE_INTERVAL = 0.25
STALE_SECONDS = 120
# Imports running at once in this process (each is one thread doing disk and DB work).
MAX_RUNNING = 2
# Job files (the "recent imports" list) are kept this long.
KEEP_JOBS_SECONDS = 30 * 24 * 3600.0

_running = threading.BoundedSemaphore(MAX_RUNNING)


class ImportRefused(ValueError):
    """An import that cannot start, with a message for the account holder."""


@dataclass
class Job:
    id: str
    account_id: int
    filename: str
    format: str
    mailbox: str
    state: str = "queued"  # queued, running, done, failed, aborted
    done: int = 0  # source bytes read
    total: int = 0
    messages: int = 0
    current: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    error: str = ""
    heartbeat: float = 0.0

    @property
    def percent(self) -> int:
        if self.state == "done":
            return 100
        return 0 if self.total <= 0 else min(99, self.done * 100 // self.total)

    def public(self) -> dict[str, object]:
        """What the progress endpoint answers."""
        state = self.state
        if state in ("queued", "running") and time.time() - self.heartbeat > STALE_SECONDS:
            state = "interrupted"
        return {
            "state": state, "percent": self.percent, "messages": self.messages, "mailbox": self.current,
            "done": self.done, "total": self.total, "counts": self.counts, "skipped": self.skipped[:20],
            "error": self.error,
        }


def jobs_dir() -> Path:
    path = files.data_dir() / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _job_path(job_id: str) -> Path:
    return jobs_dir() / f"{job_id}.json"


def _abort_path(job_id: str) -> Path:
    return jobs_dir() / f"{job_id}.abort"


def request_abort(job: Job) -> bool:
    """Ask the import to stop before its next message; False if it already ended (or
    its thread died: the page shows it interrupted, and nothing would read the request)."""
    if job.public()["state"] not in ("queued", "running"):
        return False
    _abort_path(job.id).touch()
    log.info("import abort requested", extra={"job": job.id})
    return True


def save_job(job: Job) -> None:
    job.heartbeat = time.time()
    tmp = _job_path(job.id).with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(job)))
    os.replace(tmp, _job_path(job.id))


def load_job(job_id: str, account: Account) -> Job | None:
    """The job if it exists and belongs to `account` (job ids are unguessable as well)."""
    if not job_id.isalnum():
        return None
    try:
        data = json.loads(_job_path(job_id).read_text())
    except (OSError, ValueError):
        return None
    job = Job(**data)
    return job if job.account_id == account.pk else None


def account_jobs(account: Account, limit: int = 10) -> list[Job]:
    jobs = []
    for path in sorted(jobs_dir().glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True):
        job = load_job(path.stem, account)
        if job is not None:
            jobs.append(job)
            if len(jobs) >= limit:
                break
    return jobs


def prune_jobs(max_age: float = KEEP_JOBS_SECONDS) -> int:
    """Forget the job files of imports that ended (or died) more than `max_age` ago."""
    cutoff = time.time() - max_age
    removed = 0
    for path in jobs_dir().glob("*.json"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def upload_kind(filename: str) -> str:
    """The suffix the engine needs to recognise an upload: .zip, .tgz, or none (an mbox)."""
    kind = archive_kind(filename)
    return {"zip": ".zip", "tgz": ".tgz"}.get(kind, "")


def default_mailbox(filename: str, fmt: str) -> str:
    """A single uploaded mbox file goes to the mailbox its name says ("Sent Items.mbox"
    is Sent); archives keep the names of the mailboxes inside them."""
    if fmt != "mbox" or upload_kind(filename):
        return ""
    stem = Path(filename).name
    stem = stem[: -len(".mbox")] if stem.lower().endswith(".mbox") else stem
    return map_mailbox_name(stem) if stem else ""


def _is_takeout(path: Path) -> bool:
    """A Google Takeout mbox: messages at its start carry X-Gmail-Labels."""
    with open(path, "rb") as fh:
        return b"\n" + gmaillabels.HEADER in fh.read(64 * 1024).lower()


def start_import(account: Account, upload: IO[bytes], filename: str, fmt: str, mailbox: str) -> Job:
    """Keep the upload in the data directory and start importing it in a thread."""
    if fmt not in ("mbox", "maildir"):
        raise ImportRefused(f"unknown format {fmt!r}: mbox or maildir")
    if fmt == "maildir" and not upload_kind(filename):
        raise ImportRefused("a maildir must be uploaded as a .zip or .tgz archive of its directories")
    if any(j.state in ("queued", "running") and j.public()["state"] != "interrupted" for j in account_jobs(account)):
        raise ImportRefused("an import is already running for this account: wait until it is done")
    prune_jobs()
    job = Job(secrets.token_hex(16), account.pk, Path(filename).name, fmt, mailbox.strip() or default_mailbox(filename, fmt))
    source = files.tmp_dir() / f"import-{job.id}{upload_kind(filename)}"
    with open(source, "xb") as out:
        shutil.copyfileobj(upload, out, 1024 * 1024)
    if not mailbox.strip() and fmt == "mbox" and not upload_kind(filename) and _is_takeout(source):
        job.mailbox = ""  # filed by label at the top level, not under the file's name
    save_job(job)
    threading.Thread(target=_run, args=(job, source), name=f"import {job.id}", daemon=True).start()
    log.info("import started", extra={"account": account.name, "job": job.id, "file": job.filename, "format": fmt})
    return job


def _run(job: Job, source: Path) -> None:
    close_old_connections()
    last_write = 0.0

    def progress(p: Progress) -> None:
        nonlocal last_write
        job.done, job.total, job.messages, job.current = p.done, p.total, p.messages, p.mailbox
        now = time.monotonic()
        if now - last_write >= WRITE_INTERVAL:
            last_write = now
            save_job(job)

    # Waiting for a slot counts as alive: keep the heartbeat going.
    while not _running.acquire(timeout=STALE_SECONDS / 4):
        save_job(job)
    try:
        job.state = "running"
        save_job(job)
        account = Account.objects.get(pk=job.account_id)
        abort = _abort_path(job.id)
        result = import_mailboxes(account, job.format, job.mailbox, source, progress, should_stop=abort.exists)
        job.counts, job.skipped, job.messages = result.counts, result.skipped, result.total
        if result.aborted:
            job.state = "aborted"
        else:
            job.state = "done"
            job.done = job.total
    except ImportExportError as exc:
        job.state, job.error = "failed", str(exc).replace(str(source), job.filename)
    except Exception as exc:  # noqa: BLE001 - the page must learn that the import ended
        log.exception("import crashed", extra={"job": job.id})
        job.state, job.error = "failed", f"internal error: {type(exc).__name__}"
    finally:
        _running.release()
        source.unlink(missing_ok=True)
        _abort_path(job.id).unlink(missing_ok=True)
        save_job(job)
        connection.close()
    log.info("import ended", extra={"job": job.id, "state": job.state, "messages": job.messages, "error": job.error})
