"""Run by test_crash.py as a child process: change the hub for ever, printing
each change on its own line only after the call that made it returned.

Usage: python crash_child.py DATA_DIR COMPACT_AFTER_BYTES

Each round adds a teacher (one transaction: account, audit entry, token and
invitation email); every third round also suspends the oldest active one.
Whatever was printed was confirmed, and must be in the store after a crash.
"""

from __future__ import annotations

import sys

from hub import Actor, Hub, NewAccount
from hub.schema import ACCOUNTS, INDEXES, migrate
from storage.tinydb_store import TinyDBStore

CENTRE = "CRASH1"


def main() -> None:
    data_dir, compact_after = sys.argv[1], int(sys.argv[2])
    store = TinyDBStore(data_dir, INDEXES, compact_after_bytes=compact_after)
    migrate(store)
    hub = Hub(store)
    centre = hub.centre(CENTRE)
    if centre is None:
        _, coordinator = hub.create_centre(
            CENTRE, "Crash School", "Cora Crash", "cora@crash.school"
        )
        print(f"centre {coordinator.account_id}", flush=True)
        coordinator_id = coordinator.account_id
    else:
        coordinator_id = centre.coordinator_id
    actor = Actor(coordinator_id, "crash-test")
    teachers = [d for d in store.lookup(ACCOUNTS, "centre_id", CENTRE) if d["role"] == "teacher"]
    n = max((int(d["email"].split("@")[0][1:]) for d in teachers), default=-1) + 1
    active = sorted(
        (d["_key"] for d in teachers if d["status"] == "active"),
        key=lambda k: store.get(ACCOUNTS, k)["created_at"],  # type: ignore[index]
    )
    print("ready", flush=True)
    while True:
        if n % 3 == 2 and active:
            key = active.pop(0)
            hub.suspend(actor, key)
            print(f"suspend {key}", flush=True)
        created = hub.add_accounts(actor, [NewAccount(f"Person {n}", f"p{n}@crash.school")])
        account = created.created[0]
        print(f"add {account.account_id} {account.email}", flush=True)
        active.append(account.account_id)
        n += 1


if __name__ == "__main__":
    main()
