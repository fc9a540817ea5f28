"""Several threads changing accounts at once (as Slack, Telegram, the web
page and the scheduler do in one process): no update is lost, no rule is
broken by a race."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from hub import Actor, Conflict, NewAccount, Status
from hub.outbox import mark_sent
from hub.schema import ACCOUNTS, AUDIT, OUTBOX

THREADS = 8


def run_together(work: Callable[[int], object], n: int = THREADS) -> list[object]:
    """Start ``n`` threads on ``work(i)`` at the same moment; their results
    (or exceptions) in thread order."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_many_threads_changing_accounts_lose_no_update(centre, reopen, data_dir) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    boss = centre.actor("coordinator")
    per_thread = 15

    def work(i: int) -> list[str]:
        created = []
        for j in range(per_thread):
            account = hub.add_accounts(
                boss, [NewAccount(f"Thread {i} Person {j}", f"t{i}p{j}@riverside.school")]
            ).created[0]
            created.append(account.account_id)
            # Every thread also renames the same shared account.
            hub.edit_account(boss, centre.teacher2.account_id, name=f"Tom {i}-{j}")
        for account_id in created[::2]:
            hub.suspend(boss, account_id)
        return created

    results = run_together(work)
    assert not [r for r in results if isinstance(r, Exception)], results
    created = [a for r in results for a in r]  # type: ignore[union-attr]
    assert len(set(created)) == THREADS * per_thread
    docs = {d["_key"]: d for d in hub.store.scan(ACCOUNTS)}
    assert all(k in docs for k in created)
    suspended = {a for r in results for a in r[::2]}  # type: ignore[index]
    assert {k for k in created if docs[k]["status"] == "suspended"} == suspended
    audit = Counter(
        d["action"] for d in hub.store.scan(AUDIT) if d["actor"] == "cora@riverside.school"
    )
    assert audit["edit"] == THREADS * per_thread
    assert audit["add"] >= THREADS * per_thread and audit["suspend"] >= len(suspended)
    renames = [d for d in hub.store.scan(AUDIT) if d["action"] == "edit"]
    # Each rename saw the one before it: a chain, not lost updates.
    befores = Counter(d["before"]["name"] for d in renames)
    assert max(befores.values()) == 1
    # And all of it is on disk.
    hub.store.close()
    store = reopen(data_dir)
    try:
        assert {d["_key"] for d in store.scan(ACCOUNTS)} >= set(created)
    finally:
        store.close()


def test_racing_to_take_one_address_exactly_one_wins(centre, other_centre) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    actors = [centre.actor("coordinator"), Actor(other_centre.coordinator.account_id, "t")]

    spellings = ["race@riverside.school", "RACE@riverside.school", "Race@Riverside.School"]

    def work(i: int) -> bool:
        draft = NewAccount(f"Racer {i}", spellings[i % 3])
        return bool(hub.add_accounts(actors[i % 2], [draft]).created)

    results = run_together(work)
    assert results.count(True) == 1 and results.count(False) == THREADS - 1
    assert (
        len([d for d in hub.store.scan(ACCOUNTS) if d["email_key"] == "race@riverside.school"]) == 1
    )


def test_racing_to_suspend_one_account_exactly_one_succeeds(centre) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    actors = [centre.actor("coordinator"), centre.actor("admin"), centre.actor("admin2")]

    def work(i: int) -> str:
        return hub.suspend(actors[i % 3], centre.teacher2.account_id).status.value

    results = run_together(work)
    assert results.count("suspended") == 1
    assert all(isinstance(r, Conflict) for r in results if r != "suspended")
    assert centre.fresh("teacher2").status is Status.SUSPENDED
    suspends = [
        d
        for d in hub.store.scan(AUDIT)
        if d["action"] == "suspend" and d["target"] == "tom@riverside.school"
    ]
    assert len(suspends) == 1


def test_transfer_racing_with_transfer_moves_each_item_once(centre) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    from hub.progression import DataRow

    rows = [DataRow("ada@riverside.school", "primary", f"Test {i}") for i in range(30)]
    assert hub.import_data("GB001", rows) == []
    targets = [centre.teacher, centre.teacher2, centre.coordinator, centre.admin2]

    def work(i: int) -> int:
        return hub.transfer(
            centre.actor("coordinator"),
            centre.admin.account_id,
            "primary",
            targets[i % 4].account_id,
        )

    results = run_together(work)
    moved = [r for r in results if isinstance(r, int)]
    assert moved == [30]  # one transfer took everything; the rest found nothing
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, int))
    assert hub.data_held(centre.admin.account_id).total == 0


def test_two_deliverers_mark_an_email_sent_once(centre) -> None:  # type: ignore[no-untyped-def]
    hub = centre.hub
    email_id = sorted(d["_key"] for d in hub.store.scan(OUTBOX))[0]
    results = run_together(lambda i: mark_sent(hub.store, email_id, hub.now()))
    assert results.count(True) == 1 and results.count(False) == THREADS - 1
    assert hub.store.get(OUTBOX, email_id)["attempts"] == 1
