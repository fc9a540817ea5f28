"""SIGKILL of the real bot at random moments while it confirms changes.

The bot is ``hubbot console`` as the demo coordinator, fed a round of whole
conversations (add, suspend, restore; each ends with its Confirm typed as the
button's label) through a pipe. It is killed with SIGKILL at a random moment:
sometimes while it starts (opening, replaying the journal), mostly while it
works through the round, sometimes a few milliseconds after a confirmation
reached the pipe (so the next change is being written). Then:

- the store opens, and every change whose confirmation line the bot printed
  before it died is in it; an account the round did not touch is unchanged;
  a change that was under way but unconfirmed is either whole or absent;
- nothing is applied twice: each account's suspend and restore audit entries
  match its status, and each added account has one ``add`` entry;
- a conversation that was mid-way is resumed by the next bot: the next round
  starts with the answer to the question the stored conversation was at, and
  the reply is that conversation's next question (or its result).

Set ``KILL_SEED`` to replay a run.
"""

from __future__ import annotations

import os
import queue
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handlers.engine import STATES
from hub.demo import DEMO_COORDINATOR

from .conftest import ConsoleBot, accounts_by_email, audit_counts, open_store

KILLS = 24
CONVERSATIONS_PER_ROUND = 10
PRIMARY = "Cambridge Primary support site"
SUSPENDED = re.compile(r"^(.+) is suspended and can no longer log in\.$")
RESTORED = re.compile(r"^(.+) is active again and can log in\.$")
ADDED = re.compile(r"^Added (\d+) account\(s\); an invitation email was sent to each:$")
ADDED_ITEM = re.compile(r"^- (.+) <(.+)>$")


@dataclass
class Round:
    lines: list[str] = field(default_factory=list)
    # email -> the status this round may give it (suspend/restore)
    touched: dict[str, str] = field(default_factory=dict)
    adds: dict[str, str] = field(default_factory=dict)  # email -> name, maybe added
    # (what was resumed, fragments of which one is expected in the first reply)
    resume: tuple[str, tuple[str, ...]] | None = None


@dataclass
class World:
    """What the test knows of the store: every account's status by email,
    and names (the bot's confirmations name people, not addresses)."""

    status: dict[str, str]
    by_name: dict[str, str]
    coordinator_key: str
    account_ids: dict[str, str] = field(default_factory=dict)  # id -> email
    kills: int = 0
    kills_mid_round: int = 0
    confirmed: int = 0
    resumed: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


def read_world(data_dir: Path) -> World:
    store = open_store(data_dir)
    try:
        accounts = accounts_by_email(store)
        coordinator = accounts[DEMO_COORDINATOR]
        return World(
            status={e: d["status"] for e, d in accounts.items()},
            by_name={d["name"]: e for e, d in accounts.items()},
            coordinator_key=f"console:{coordinator['_key']}",
        )
    finally:
        store.close()


# --------------------------------------------------------------- planning
def add_lines(name: str, email: str, from_step: str = "start") -> list[str]:
    steps = [
        ("start", "/add"),
        ("name", name),
        ("email", email),
        ("admin", "No, a teacher"),
        ("tick", PRIMARY),
        ("sites", "Done"),
        ("more", "Review and confirm"),
        ("confirmed", "Add 1 account(s)"),
    ]
    start = [s for s, _ in steps].index(from_step)
    return [text for _, text in steps[start:]]


FIRST_REPLY = {  # the step a resumed add was at -> a fragment of its next reply
    "name": "email address?",
    "email": "admin rights?",
    "admin": "Which support sites",
    "tick": "Which support sites",  # the same question, the box now ticked
    "sites": "Ready: ",
    "more": "Each will be emailed an invitation",
}
# A confirmation resumed: done now, or already done by the killed bot between
# its change and forgetting the conversation (then refused: never twice).
CONFIRM_REPLY = {
    "add": ("Added 1 account(s)", "Not added: "),
    "suspend": ("is suspended and can no longer log in", "is already suspended"),
    "restore": ("is active again", "is not suspended; nothing to restore"),
}


def resume_lines(state: dict[str, Any], world: World, plan: Round, r: int) -> list[str]:
    """The answers that finish the conversation the killed bot left open."""
    name, step, data = state["name"], state["step"], state.get("data", {})
    if state.get("confirming"):
        if name == "add":
            for draft in data["drafts"]:
                plan.adds[draft["email"]] = draft["name"]
        else:
            email = world.account_ids[data["account_id"]]
            plan.touched[email] = "suspended" if name == "suspend" else "active"
        plan.resume = (f"{name}/{step}", CONFIRM_REPLY[name])
        return [state["prompt"]["buttons"][0][0]]  # the Confirm button's label, typed
    assert name == "add", f"unexpected conversation left open: {state}"
    cur = data.get("cur", {})
    if step == "name":
        person = (f"Resumed R{r}", f"resumed.r{r}@demo.school")
    else:
        person = (cur["name"], cur.get("email") or _planned_email(cur["name"]))
    plan.adds[person[1]] = person[0]
    ticked = "primary" in cur.get("ticked", [])
    first = "tick" if step == "sites" and not ticked else step
    plan.resume = (f"add/{step}", (FIRST_REPLY[first],))
    return add_lines(*person, from_step=first)


def _planned_email(name: str) -> str:
    # "Kill R3 N7" -> kill.r3.n7@demo.school; "Resumed R3" -> resumed.r3@...
    return ".".join(name.lower().split()) + "@demo.school"


def plan_round(r: int, world: World, rng: random.Random, state: dict[str, Any] | None) -> Round:
    plan = Round()
    if state is not None:
        plan.lines += resume_lines(state, world, plan, r)
    busy = set(plan.touched) | set(plan.adds) | {DEMO_COORDINATOR}
    for i in range(CONVERSATIONS_PER_ROUND):
        active = sorted(e for e, s in world.status.items() if s == "active" and e not in busy)
        suspended = sorted(e for e, s in world.status.items() if s == "suspended" and e not in busy)
        kind = rng.choices(["add", "suspend", "restore"], [4, 3, 3])[0]
        if kind == "suspend" and active:
            email = rng.choice(active)
            plan.lines += [f"/suspend {email}", "Suspend"]
            plan.touched[email] = "suspended"
        elif kind == "restore" and suspended:
            email = rng.choice(suspended)
            plan.lines += [f"/restore {email}", "Restore"]
            plan.touched[email] = "active"
        else:
            name = f"Kill R{r} N{i}"
            email = _planned_email(name)
            plan.lines += add_lines(name, email)
            plan.adds[email] = name
        busy.add(email)
    return plan


# ---------------------------------------------------------------- reading
@dataclass
class Confirmed:
    status: dict[str, str] = field(default_factory=dict)  # email -> status told
    added: dict[str, str] = field(default_factory=dict)  # email -> name told


def confirmations(lines: list[str], world: World) -> Confirmed:
    told = Confirmed()
    listing = False
    for text in lines:
        if m := SUSPENDED.match(text):
            told.status[world.by_name[m[1]]] = "suspended"
        elif m := RESTORED.match(text):
            told.status[world.by_name[m[1]]] = "active"
        elif ADDED.match(text):
            listing = True
            continue
        elif listing and (m := ADDED_ITEM.match(text)):
            told.added[m[2]] = m[1]
            continue
        listing = False
    return told


# ---------------------------------------------------------------- checking
def check_store(data_dir: Path, world: World, plan: Round, told: Confirmed) -> dict | None:
    """The restarted store against what the bot said; returns the stored
    conversation of the coordinator, if one was left open."""
    store = open_store(data_dir)  # it opens: that is the first check
    try:
        accounts = accounts_by_email(store)
        for email, name in told.added.items():
            assert email in accounts, f"confirmed add of {email} lost"
            doc = accounts[email]
            assert (doc["name"], doc["role"], doc["status"]) == (name, "teacher", "active")
            assert doc["sites"] == ["hub", "primary"], doc["sites"]
        for email, status in told.status.items():
            assert accounts[email]["status"] == status, f"confirmed {status} of {email} lost"
        for email, before in world.status.items():
            now = accounts[email]["status"]
            allowed = {before, plan.touched.get(email, before)}
            assert now in allowed, f"{email} is {now}; it was {before} and untouched"
        unknown = set(accounts) - set(world.status) - set(plan.adds)
        assert not unknown, f"accounts nobody asked for: {unknown}"
        # Nothing applied twice: audit entries match the status exactly.
        suspends, restores = audit_counts(store, "suspend"), audit_counts(store, "restore")
        adds = audit_counts(store, "add")
        for email, doc in accounts.items():
            balance = suspends.get(email, 0) - restores.get(email, 0)
            assert balance == (1 if doc["status"] == "suspended" else 0), (email, balance)
            if email not in world.status or email in plan.adds:
                assert adds.get(email) == 1, f"{email} added {adds.get(email)} times"
        # What happened to unconfirmed changes is now known.
        world.status = {e: d["status"] for e, d in accounts.items()}
        world.by_name = {d["name"]: e for e, d in accounts.items()}
        world.account_ids = {d["_key"]: e for e, d in accounts.items()}
        return store.get(STATES, world.coordinator_key)
    finally:
        store.close()


def run_round(
    data_dir: Path, world: World, plan: Round, rng: random.Random, per_input: float
) -> tuple[list[str], bool, list[float]]:
    """Start the bot, feed the round, kill it; (complete output lines, whether
    the kill came before the round was through, when each input was done)."""
    bot = ConsoleBot(data_dir)
    try:
        mode = rng.random()
        if mode < 0.15:  # while starting: imports, opening, replay, compaction
            bot.feed(plan.lines)
            time.sleep(rng.uniform(0.0, 0.5))
        else:
            bot.feed(plan.lines)
            assert bot.first_output.wait(30), bot.stderr
            if mode < 0.45:  # just after a confirmation reached the pipe
                wanted = rng.randrange(1, 6)
                deadline = time.monotonic() + per_input * len(plan.lines) * 1.5
                seen = 0
                while seen < wanted and time.monotonic() < deadline:
                    try:
                        text = bot._lines.get(timeout=0.01)
                    except queue.Empty:
                        continue
                    if text is None:
                        bot._lines.put(None)
                        break
                    bot.output.append(text)
                    if SUSPENDED.match(text) or RESTORED.match(text) or ADDED.match(text):
                        seen += 1
                time.sleep(rng.uniform(0, 0.004))
            else:  # anywhere in the round
                time.sleep(rng.uniform(0, per_input * len(plan.lines)))
        out = bot.kill()
        assert bot.proc.returncode == -9, bot.stderr
        assert "Traceback" not in bot.stderr, bot.stderr
        echoed = [t for t in out if t.startswith("> ")]
        return out, len(echoed) < len(plan.lines) or not out, bot.echo_times
    finally:
        bot.stop()


def test_sigkill_at_random_moments_keeps_every_confirmed_change(demo_dir: Path) -> None:
    # Not the random module: test plugins may have seeded it.
    seed = int(os.environ.get("KILL_SEED", int.from_bytes(os.urandom(3), "big")))
    rng = random.Random(seed)
    world = read_world(demo_dir)
    check_store(demo_dir, world, Round(), Confirmed())
    state: dict[str, Any] | None = None
    per_input = 0.004  # seconds the bot takes per line; learnt as we go
    try:
        for r in range(KILLS):
            plan = plan_round(r, world, rng, state)
            out, mid_round, times = run_round(demo_dir, world, plan, rng, per_input)
            echoed = sum(1 for t in out if t.startswith("> "))
            if len(times) > 5:  # the bot's own pace, for the next round's kill
                per_input = (per_input + (times[-1] - times[0]) / (len(times) - 1)) / 2
            if plan.resume is not None and echoed:
                # The first reply of the new bot continues the stored conversation.
                first = out[out.index(f"> {plan.lines[0]}") + 1 :]
                first = first[: next((i for i, t in enumerate(first) if t[:2] == "> "), None)]
                what, fragments = plan.resume
                assert first and not any("Send 'help'" in t for t in first), (what, first)
                assert any(f in t for t in first for f in fragments), (what, fragments, first)
                world.resumed.append(what)
            told = confirmations(out, world)
            world.kills += 1
            world.kills_mid_round += mid_round
            world.confirmed += len(told.status) + len(told.added)
            world.log.append(
                f"round {r}: {echoed}/{len(plan.lines)} lines, per_input {per_input:.4f}, "
                f"{len(told.status) + len(told.added)} confirmed, resumed {plan.resume}"
            )
            state = check_store(demo_dir, world, plan, told)
            if state is not None:
                world.log[-1] += f"; left open: {state['name']}/{state['step']} {state['data']}"

        # A last bot finishes whatever was left open and exits by itself.
        plan = plan_round(KILLS, world, rng, state)
        bot = ConsoleBot(demo_dir)
        bot.feed(plan.lines)
        assert bot.finish() == 0, bot.stderr
        told = confirmations(bot.output, world)
        assert check_store(demo_dir, world, plan, told) is None
        # Everything it was asked is done: now, or (for a resumed Confirm)
        # already by the bot killed after the change, and then refused now.
        assert set(told.added) <= set(plan.adds) <= set(world.status)
        assert set(told.status) <= set(plan.touched)
        assert all(world.status[e] == status for e, status in plan.touched.items())
    except BaseException as exc:
        raise AssertionError(f"KILL_SEED={seed}: {world.log[-3:]}") from exc

    print("\n".join(world.log))
    print(
        f"\nSIGKILL: {world.kills} kills ({world.kills_mid_round} mid-round), "
        f"{world.confirmed} confirmed changes verified, {len(world.resumed)} conversations "
        f"resumed ({', '.join(sorted(set(world.resumed)))}); KILL_SEED={seed}"
    )
    assert world.kills >= 20
    assert world.kills_mid_round >= KILLS // 2
    assert world.confirmed >= 2 * KILLS
    assert len(world.resumed) >= 5
