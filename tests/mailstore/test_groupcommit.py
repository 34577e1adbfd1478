"""mailstore.groupcommit: concurrent units share one transaction, each gets its own
result or exception, and nothing returns before its commit."""
from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from accounts.models import Domain
from mailstore.groupcommit import GroupCommitter


def _domain(name: str) -> Domain:
    return Domain.objects.create(name=name, ascii=name)


def _in_threads(targets: list) -> list[BaseException | None]:  # type: ignore[type-arg]
    errors: list[BaseException | None] = [None] * len(targets)

    def wrap(i: int) -> None:
        try:
            targets[i]()
        except BaseException as exc:  # noqa: BLE001 - collected for the test
            errors[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(len(targets))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        assert not t.is_alive()
    return errors


@pytest.mark.django_db(transaction=True)
def test_waiting_units_are_committed_together() -> None:
    gc = GroupCommitter()
    first_running = threading.Event()
    release_first = threading.Event()
    results: dict[int, int] = {}

    def first() -> None:
        def work() -> int:
            first_running.set()
            assert release_first.wait(30)
            return _domain("first.test").pk

        results[0] = gc.run(work, key=1)

    def later(i: int):  # type: ignore[no-untyped-def]
        def call() -> None:
            assert first_running.wait(30)
            results[i] = gc.run(lambda: _domain(f"d{i}.test").pk, key=i)
        return call

    def releaser() -> None:
        assert first_running.wait(30)
        # every later unit is queued behind the first's open transaction
        for _ in range(3000):
            with gc._lock:
                if len(gc._pending) == 5:
                    break
            threading.Event().wait(0.01)
        release_first.set()

    errors = _in_threads([first] + [later(i) for i in range(1, 6)] + [releaser])
    assert errors == [None] * 7
    assert sorted(Domain.objects.values_list("name", flat=True)) == [
        "d1.test", "d2.test", "d3.test", "d4.test", "d5.test", "first.test"]
    assert set(results) == {0, 1, 2, 3, 4, 5}
    assert gc.units == 6
    assert gc.batches == 2  # the first alone, then the five that waited, in one commit


@pytest.mark.django_db(transaction=True)
def test_one_failing_unit_spares_the_others() -> None:
    gc = GroupCommitter()
    gate = threading.Event()
    errors = _in_threads([
        lambda: gc.run(lambda: (gate.wait(5), _domain("a.test"))[1]),
        lambda: gc.run(lambda: _domain("a.test")),  # unique name taken: IntegrityError
        lambda: gc.run(lambda: _domain("c.test")),
        lambda: gate.set(),
    ])
    failed = [e for e in errors if e is not None]
    assert len(failed) == 1
    assert "UNIQUE" in str(failed[0]).upper() or "duplicate key" in str(failed[0])
    assert sorted(Domain.objects.values_list("name", flat=True)) == ["a.test", "c.test"]


@pytest.mark.django_db(transaction=True)
def test_a_failed_commit_fails_every_unit_of_the_batch() -> None:
    from django.db import IntegrityError

    from accounts.models import Address

    gc = GroupCommitter()
    gate = threading.Event()
    # Foreign keys are checked at COMMIT (deferred), so this unit passes its savepoint
    # and then makes the shared commit fail: both callers must hear of it.
    errors = _in_threads([
        lambda: gc.run(lambda: (gate.wait(5), _domain("good.test"))[1]),
        lambda: gc.run(lambda: Address.objects.create(localpart="x", domain_id=999999, account_id=999999)),
        lambda: gc.run(lambda: _domain("good2.test")),
        lambda: gate.set(),
    ])
    failed = [e for e in errors[:3] if e is not None]
    assert failed, "the dangling foreign key must fail a commit"
    assert all(isinstance(e, IntegrityError) for e in failed)
    stored = set(Domain.objects.values_list("name", flat=True))
    # whoever shared the failing commit failed with it; whoever committed apart is stored
    assert len(failed) + len(stored) == 3
    assert not Address.objects.exists()


@pytest.mark.django_db
def test_inside_a_transaction_the_unit_runs_inline() -> None:
    gc = GroupCommitter()
    assert connection.in_atomic_block
    gc.run(lambda: _domain("inline.test"))
    assert gc.batches == 0
    assert Domain.objects.filter(name="inline.test").exists()


@pytest.mark.django_db(transaction=True)
def test_module_run_groups_only_on_sqlite() -> None:
    from mailstore import groupcommit

    before = groupcommit.committer.batches
    pk = groupcommit.run(lambda: _domain("module.test").pk, key=3)
    assert Domain.objects.get(pk=pk).name == "module.test"
    grouped = groupcommit.committer.batches - before
    assert grouped == (1 if connection.vendor == "sqlite" else 0)


@pytest.mark.django_db(transaction=True)
def test_units_run_in_one_committer_thread_that_ends_when_idle() -> None:
    gc = GroupCommitter(idle_exit=0.2)
    caller = threading.get_ident()
    first = gc.run(threading.get_ident)
    second = gc.run(threading.get_ident)
    assert first == second != caller  # one long-lived thread, with one connection
    for _ in range(500):
        if gc._thread is None:
            break
        threading.Event().wait(0.01)
    assert gc._thread is None  # idle: ended (closing its connection)
    assert gc.run(lambda: _domain("again.test").name) == "again.test"
    assert gc.batches == 3


def _queue_behind_first(gc: GroupCommitter, later: list, waiting: int) -> list[BaseException | None]:  # type: ignore[type-arg]
    """Run a first unit that holds its batch open until `waiting` units are queued behind
    it, then the `later` callables; the queued ones share the next batch."""
    first_running = threading.Event()
    release = threading.Event()

    def first() -> None:
        gc.run(lambda: (first_running.set(), release.wait(30), _domain("first.test"))[2])

    def after(call):  # type: ignore[no-untyped-def]
        def run() -> None:
            assert first_running.wait(30)
            call()
        return run

    def releaser() -> None:
        assert first_running.wait(30)
        for _ in range(3000):
            with gc._lock:
                if len(gc._pending) == waiting:
                    break
            threading.Event().wait(0.01)
        release.set()

    return _in_threads([first] + [after(c) for c in later] + [releaser])


@pytest.mark.django_db(transaction=True)
def test_combined_units_of_a_batch_run_in_one_call() -> None:
    gc = GroupCommitter()
    calls: list[list[str]] = []

    def combine(names: list[str]) -> list[int]:
        calls.append(list(names))
        return [_domain(name).pk for name in names]

    results: dict[str, int] = {}

    def deliver(name: str):  # type: ignore[no-untyped-def]
        return lambda: results.__setitem__(name, gc.run_combined(combine, name, key=1))

    errors = _queue_behind_first(gc, [deliver(f"c{i}.test") for i in range(4)], waiting=4)
    assert errors == [None] * 6
    assert len(calls) == 1 and sorted(calls[0]) == ["c0.test", "c1.test", "c2.test", "c3.test"]
    assert {name: Domain.objects.get(pk=pk).name for name, pk in results.items()} == {n: n for n in calls[0]}
    assert gc.batches == 2


@pytest.mark.django_db(transaction=True)
def test_a_failing_combined_call_runs_each_unit_alone() -> None:
    gc = GroupCommitter()
    calls: list[list[str]] = []

    def combine(names: list[str]) -> list[int]:
        calls.append(list(names))
        return [_domain(name).pk for name in names]  # "dup.test" twice: the second fails

    errors = _queue_behind_first(gc, [lambda n=n: gc.run_combined(combine, n) for n in ("x.test", "dup.test", "dup.test")],
                                 waiting=3)
    assert [type(e).__name__ for e in errors if e is not None] == ["IntegrityError"]
    assert sorted(Domain.objects.values_list("name", flat=True)) == ["dup.test", "first.test", "x.test"]
    assert len(calls[0]) == 3 and all(len(c) == 1 for c in calls[1:]) and len(calls) == 4


@pytest.mark.django_db(transaction=True)
def test_prepare_runs_once_for_the_batch_before_its_transaction() -> None:
    gc = GroupCommitter()
    prepared: list[tuple[list[str], bool]] = []

    def prepare(names: list[str]) -> None:
        prepared.append((sorted(names), transaction.get_connection().in_atomic_block))

    def combine(names: list[str]) -> list[int]:
        return [_domain(name).pk for name in names]

    errors = _queue_behind_first(
        gc, [lambda n=n: gc.run_combined(combine, n, prepare=prepare) for n in ("p1.test", "p2.test", "p3.test")],
        waiting=3)
    assert errors == [None] * 5
    assert prepared == [(["p1.test", "p2.test", "p3.test"], False)]
    assert Domain.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_committers_of_several_processes_take_turns_through_a_lock_file() -> None:
    """While another process holds `<database>.commit-lock` (here the test, through its
    own descriptor: flock excludes across open files as across processes), a batch waits;
    it commits once the lock is let go. Not on PostgreSQL, nor SQLite in memory."""
    import fcntl

    name = str(connection.settings_dict["NAME"])
    if connection.vendor != "sqlite" or ":memory:" in name or "mode=memory" in name:
        gc = GroupCommitter()
        assert gc.run(lambda: _domain("free.test").pk)
        return
    gc = GroupCommitter()
    done = threading.Event()
    with open(name + ".commit-lock", "a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        worker = threading.Thread(target=lambda: (gc.run(lambda: _domain("turn.test").pk), done.set()))
        worker.start()
        assert not done.wait(0.5), "the batch committed while another process held the turn"
        fcntl.flock(held.fileno(), fcntl.LOCK_UN)
        assert done.wait(30)
        worker.join(30)
    assert Domain.objects.filter(name="turn.test").exists()
