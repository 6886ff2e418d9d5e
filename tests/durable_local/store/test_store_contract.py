"""Store contract tests: any ``Store`` implementation must pass them.

The ``store`` fixture is parametrised over store factories (SqliteStore in memory and on a file);
another implementation is added by appending a factory to ``FACTORIES``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from durable_local.engine import events as ev
from durable_local.engine.commit import ActivityRequest, ChildStart, EpisodeCommit, OutboundMessage
from durable_local.model import EventType, InstanceRecord, ParentLink, QueryFilter, RuntimeStatus
from durable_local.model.errors import StoreUnavailable
from durable_local.store.base import (
    ActivityWorkItem,
    InstanceExistsError,
    LeaseLost,
    OrchestrationWorkItem,
    Store,
)
from durable_local.store.sqlite import SqliteStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)

StoreFactory = Callable[[Path], Store]
FACTORIES: dict[str, StoreFactory] = {
    "sqlite-memory": lambda tmp: SqliteStore(":memory:"),
    "sqlite-file": lambda tmp: SqliteStore(tmp / "store" / "hub.db"),
}


@pytest.fixture(params=sorted(FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made = FACTORIES[request.param](tmp_path)
    yield made
    made.close()


# -- helpers -------------------------------------------------------------------------------------
def record(
    instance_id: str,
    *,
    created: datetime = T0,
    name: str = "orch",
    execution_id: str | None = None,
    input_json: str | None = '"in"',
    parent: ParentLink | None = None,
) -> InstanceRecord:
    return InstanceRecord(
        instance_id=instance_id,
        name=name,
        execution_id=execution_id or f"exec-{instance_id}",
        status=RuntimeStatus.PENDING,
        input_json=input_json,
        created=created,
        updated=created,
        parent=parent,
    )


def start_event(rec: InstanceRecord) -> ev.Event:
    return ev.new_execution_started(
        rec.created,
        instance_id=rec.instance_id,
        execution_id=rec.execution_id,
        name=rec.name,
        input_json=rec.input_json,
    )


def create(store: Store, instance_id: str, **kwargs: Any) -> InstanceRecord:
    rec = record(instance_id, **kwargs)
    store.create_instance(rec, start_event(rec))
    return rec


def first_episode(
    item: OrchestrationWorkItem,
    now: datetime = T0,
    *,
    activities: list[ActivityRequest] | None = None,
    messages: list[OutboundMessage] | None = None,
    status: RuntimeStatus = RuntimeStatus.RUNNING,
) -> EpisodeCommit:
    """OS, the claimed messages, TaskScheduled per activity, OC."""
    appended = [ev.new_orchestrator_started(now), *(m.event for m in item.messages)]
    for act in activities or []:
        appended.append(ev.new_task_scheduled(now, act.task_id, act.name, act.input_json))
    appended.append(ev.new_orchestrator_completed(now))
    return EpisodeCommit(
        appended=appended,
        consumed=[m.message_id for m in item.messages],
        status=status,
        updated=now,
        activities=list(activities or []),
        messages=list(messages or []),
    )


def claim(
    store: Store, now: datetime = T0, owner: str = "w1", lease: float = 60.0
) -> OrchestrationWorkItem | None:
    return store.claim_orchestration(owner, now, lease)


def drain_claims(store: Store, now: datetime) -> list[OrchestrationWorkItem]:
    """Claim every claimable instance (releasing nothing)."""
    items = []
    while (item := claim(store, now, owner="drain")) is not None:
        items.append(item)
    return items


def history_types(store: Store, instance_id: str) -> list[int]:
    return [json.loads(text)["EventType"] for text in store.load_history(instance_id)]


def started_and_running(store: Store, instance_id: str, **kwargs: Any) -> OrchestrationWorkItem:
    """Create an instance and commit its first episode; return a fresh claim-less view."""
    create(store, instance_id, **kwargs)
    item = claim(store)
    assert item is not None and item.instance.instance_id == instance_id
    store.commit_episode(item, first_episode(item))
    return item


# -- create_instance ----------------------------------------------------------------------------
def test_create_instance_queues_execution_started(store: Store) -> None:
    rec = create(store, "i1")
    got = store.get_instance("i1")
    assert got is not None
    assert (got.name, got.status, got.input_json, got.generation) == (
        "orch",
        RuntimeStatus.PENDING,
        '"in"',
        0,
    )
    assert got.created == T0 and got.updated == T0
    item = claim(store)
    assert item is not None
    assert item.instance.instance_id == "i1"
    assert [m.event["EventType"] for m in item.messages] == [EventType.EXECUTION_STARTED]
    assert item.messages[0].event["OrchestrationInstance"]["ExecutionId"] == rec.execution_id
    assert item.messages[0].event["Generation"] == 0
    assert store.get_instance("missing") is None


@pytest.mark.parametrize(
    "status", [RuntimeStatus.PENDING, RuntimeStatus.RUNNING, RuntimeStatus.SUSPENDED]
)
def test_create_over_active_instance_raises(store: Store, status: RuntimeStatus) -> None:
    create(store, "i1", input_json='"first"')
    store.set_status("i1", status, T0)
    with pytest.raises(InstanceExistsError) as raised:
        create(store, "i1", input_json='"second"', execution_id="other")
    assert raised.value.status == status
    got = store.get_instance("i1")
    assert got is not None and got.input_json == '"first"' and got.execution_id == "exec-i1"
    # still exactly one ExecutionStarted queued
    store.set_status("i1", RuntimeStatus.PENDING, T0)
    item = claim(store)
    assert item is not None and len(item.messages) == 1


@pytest.mark.parametrize(
    "status",
    [
        RuntimeStatus.COMPLETED,
        RuntimeStatus.FAILED,
        RuntimeStatus.TERMINATED,
        RuntimeStatus.CANCELED,
    ],
)
def test_create_over_terminal_instance_replaces_it(store: Store, status: RuntimeStatus) -> None:
    item = started_and_running(store, "i1")
    assert len(store.load_history("i1")) == 3
    store.set_status("i1", status, T0)
    later = T0 + timedelta(minutes=1)
    create(store, "i1", created=later, execution_id="exec-2", input_json='"again"')
    got = store.get_instance("i1")
    assert got is not None
    assert got.generation == 1
    assert (got.execution_id, got.status, got.input_json, got.created) == (
        "exec-2",
        RuntimeStatus.PENDING,
        '"again"',
        later,
    )
    assert store.load_history("i1") == []  # the old history is gone
    new_item = claim(store, later)
    assert new_item is not None
    assert [m.event["EventType"] for m in new_item.messages] == [EventType.EXECUTION_STARTED]
    assert new_item.messages[0].event["Generation"] == 1
    assert new_item.instance.history_len == 0
    assert item.lock_token != new_item.lock_token


# -- commit_episode -----------------------------------------------------------------------------
def test_commit_episode_applies_everything(store: Store) -> None:
    create(store, "i1")
    item = claim(store)
    assert item is not None
    timer_at = T0 + timedelta(minutes=5)
    commit = first_episode(
        item,
        activities=[ActivityRequest(0, "hello", '"x"')],
        messages=[
            OutboundMessage(
                "i1",
                ev.new_timer_fired(timer_at, 1, "t"),
                execution_id="exec-i1",
                visible_at=timer_at,
            )
        ],
    )
    commit.custom_status = '{"s":1}'
    commit.custom_status_changed = True
    store.commit_episode(item, commit)

    got = store.get_instance("i1")
    assert got is not None
    assert got.status == RuntimeStatus.RUNNING
    assert got.custom_status == '{"s":1}'
    assert got.history_len == 4
    stored = [json.loads(t) for t in store.load_history("i1")]
    assert [e["EventType"] for e in stored] == [12, 0, 4, 13]
    # IsPlayed: every stored event is played except OrchestratorStarted (spec §2.4)
    assert [e["IsPlayed"] for e in stored] == [False, True, True, True]
    assert [json.loads(t)["EventType"] for t in store.load_history("i1", 2)] == [4, 13]
    # the start message is consumed, the lease released: nothing else is claimable now
    assert claim(store, owner="w2") is None
    [work] = store.claim_activities("w2", T0, 60, 10)
    assert (work.instance_id, work.execution_id, work.task_id, work.name, work.input_json) == (
        "i1",
        "exec-i1",
        0,
        "hello",
        '"x"',
    )
    assert store.next_visible_at(T0) == timer_at


def test_commit_with_stolen_lease_raises_and_applies_nothing(store: Store) -> None:
    create(store, "i1")
    store.enqueue("i1", ev.new_event_raised(T0, "E", "1"))
    first = claim(store, T0, owner="w1", lease=10)
    assert first is not None and len(first.messages) == 2
    # the lease expires and another worker takes the instance
    later = T0 + timedelta(seconds=11)
    second = claim(store, later, owner="w2", lease=10)
    assert second is not None
    assert [m.message_id for m in second.messages] == [m.message_id for m in first.messages]

    commit = first_episode(
        first,
        activities=[ActivityRequest(0, "hello", '"x"')],
        messages=[OutboundMessage("other", ev.new_event_raised(T0, "X", "1"))],
    )
    commit.finished = True
    commit.status = RuntimeStatus.COMPLETED
    commit.output = '"done"'
    with pytest.raises(LeaseLost):
        store.commit_episode(first, commit)

    got = store.get_instance("i1")
    assert got is not None
    assert got.status == RuntimeStatus.PENDING and got.output is None
    assert store.load_history("i1") == []
    assert store.claim_activities("w3", later, 60, 10) == []
    assert first.instance.history_len == 0
    # the new owner's commit still finds every message and succeeds
    store.commit_episode(second, first_episode(second, later))
    assert history_types(store, "i1") == [12, 0, 15, 13]


def _unserialisable_in_history(item: OrchestrationWorkItem) -> EpisodeCommit:
    commit = first_episode(item, activities=[ActivityRequest(0, "hello", '"x"')])
    commit.appended.insert(-1, {**ev.new_generic_event(T0, "x"), "Data": object()})
    return commit


def _unserialisable_outbound(item: OrchestrationWorkItem) -> EpisodeCommit:
    # fails at the very end: after history, status, activities and children were written
    child = record("child-1", parent=ParentLink("i1", "exec-i1", 1, "orch"))
    commit = first_episode(
        item,
        activities=[ActivityRequest(0, "hello", '"x"')],
        messages=[OutboundMessage("i1", {**ev.new_event_raised(T0, "E", "1"), "Input": object()})],
    )
    commit.children = [ChildStart(child, start_event(child), 1)]
    commit.custom_status = '"changed"'
    commit.custom_status_changed = True
    return commit


@pytest.mark.parametrize("make_commit", [_unserialisable_in_history, _unserialisable_outbound])
def test_commit_failing_part_way_leaves_store_unchanged(
    store: Store, make_commit: Callable[[OrchestrationWorkItem], EpisodeCommit]
) -> None:
    create(store, "i1")
    item = claim(store, lease=10)
    assert item is not None
    with pytest.raises(TypeError):
        store.commit_episode(item, make_commit(item))

    got = store.get_instance("i1")
    assert got is not None
    assert got.status == RuntimeStatus.PENDING
    assert got.custom_status is None
    assert got.history_len == 0 and item.instance.history_len == 0
    assert store.load_history("i1") == []
    assert store.get_instance("child-1") is None
    assert store.claim_activities("w2", T0, 60, 10) == []
    # the lease is still held by the failed worker; once it expires the message is still there
    assert claim(store, T0, owner="w2") is None
    again = claim(store, T0 + timedelta(seconds=11), owner="w2")
    assert again is not None
    assert [m.event["EventType"] for m in again.messages] == [EventType.EXECUTION_STARTED]
    store.commit_episode(again, first_episode(again))
    assert history_types(store, "i1") == [12, 0, 13]


def test_commit_appends_after_existing_history(store: Store) -> None:
    started_and_running(store, "i1")
    store.enqueue("i1", ev.new_event_raised(T0, "E", '"v"'))
    item = claim(store)
    assert item is not None and item.instance.history_len == 3
    store.commit_episode(item, first_episode(item))
    assert history_types(store, "i1") == [12, 0, 13, 12, 15, 13]
    got = store.get_instance("i1")
    assert got is not None and got.history_len == 6


def test_finished_commit_discards_remaining_messages(store: Store) -> None:
    create(store, "i1")
    item = claim(store)
    assert item is not None
    timer_at = T0 + timedelta(hours=1)
    store.commit_episode(
        item,
        first_episode(
            item,
            messages=[
                OutboundMessage("i1", ev.new_timer_fired(timer_at, 0, "t"), visible_at=timer_at)
            ],
        ),
    )
    store.enqueue("i1", ev.new_event_raised(T0, "E", "1"))
    item = claim(store)
    assert item is not None
    commit = first_episode(item, status=RuntimeStatus.COMPLETED)
    commit.finished = True
    commit.output = '"ok"'
    commit.consumed = []  # even unconsumed messages of a finished instance go
    store.commit_episode(item, commit)
    got = store.get_instance("i1")
    assert got is not None and got.status == RuntimeStatus.COMPLETED and got.output == '"ok"'
    assert store.next_visible_at(T0) is None
    assert claim(store, T0 + timedelta(days=1)) is None


def test_children_are_created_with_the_parent_episode(store: Store) -> None:
    create(store, "busy-child")  # an active instance: a child with that id is refused
    create(store, "p")
    items = drain_claims(store, T0)
    parent_item = next(i for i in items if i.instance.instance_id == "p")
    for other in items:
        if other is not parent_item:
            store.release_orchestration(other)
    link = ParentLink("p", "exec-p", 0, "orch")
    ok = record("p:0", parent=link)
    refused = record("busy-child", parent=ParentLink("p", "exec-p", 1, "orch"))
    commit = first_episode(parent_item)
    commit.children = [
        ChildStart(ok, start_event(ok), 0),
        ChildStart(refused, start_event(refused), 1),
    ]
    store.commit_episode(parent_item, commit)

    child = store.get_instance("p:0")
    assert child is not None and child.parent == link and child.status == RuntimeStatus.PENDING
    busy = store.get_instance("busy-child")
    assert busy is not None and busy.parent is None  # untouched
    by_instance = {i.instance.instance_id: i for i in drain_claims(store, T0)}
    assert set(by_instance) == {"p", "p:0", "busy-child"}
    [failure] = by_instance["p"].messages
    assert failure.event["EventType"] == EventType.SUB_ORCHESTRATION_INSTANCE_FAILED
    assert failure.event["TaskScheduledId"] == 1
    assert "already exists" in failure.event["Reason"]


# -- leases --------------------------------------------------------------------------------------
def test_orchestration_lease_blocks_until_expiry(store: Store) -> None:
    create(store, "i1")
    item = claim(store, T0, owner="w1", lease=5)
    assert item is not None
    store.enqueue("i1", ev.new_event_raised(T0, "E", "1"))  # new work for a leased instance
    assert claim(store, T0 + timedelta(seconds=1), owner="w2") is None
    assert claim(store, T0 + timedelta(seconds=4), owner="w2") is None
    stolen = claim(store, T0 + timedelta(seconds=6), owner="w2")
    assert stolen is not None and stolen.instance.instance_id == "i1"
    assert len(stolen.messages) == 2
    assert stolen.lock_token != item.lock_token


def test_release_orchestration_makes_it_claimable(store: Store) -> None:
    create(store, "i1")
    item = claim(store, lease=3600)
    assert item is not None
    assert claim(store, owner="w2") is None
    store.release_orchestration(item)
    again = claim(store, owner="w2")
    assert again is not None and len(again.messages) == 1


def test_release_all_leases(store: Store) -> None:
    create(store, "i1")
    create(store, "i2", created=T0 + timedelta(seconds=1))
    leased = drain_claims(store, T0 + timedelta(seconds=1))
    assert len(leased) == 2
    # an activity leased too
    store.commit_episode(
        leased[0], first_episode(leased[0], activities=[ActivityRequest(0, "a", None)])
    )
    assert len(store.claim_activities("w1", T0, 3600, 10)) == 1
    assert store.claim_activities("w2", T0, 3600, 10) == []
    assert claim(store, T0 + timedelta(seconds=1), owner="w2") is None

    store.release_all_leases()  # the runtime that held them is gone

    assert len(drain_claims(store, T0 + timedelta(seconds=1))) == 1  # the uncommitted one
    [work] = store.claim_activities("w2", T0, 3600, 10)
    assert work.dequeue_count == 2


# -- activities ----------------------------------------------------------------------------------
def _with_activities(store: Store, count: int) -> None:
    create(store, "i1")
    item = claim(store)
    assert item is not None
    store.commit_episode(
        item,
        first_episode(
            item, activities=[ActivityRequest(i, "hello", json.dumps(str(i))) for i in range(count)]
        ),
    )


def test_claim_activities_respects_limit_and_leases(store: Store) -> None:
    _with_activities(store, 5)
    assert store.claim_activities("w1", T0, 10, 0) == []
    first = store.claim_activities("w1", T0, 10, 3)
    assert [w.task_id for w in first] == [0, 1, 2]
    assert all(w.dequeue_count == 1 for w in first)
    rest = store.claim_activities("w2", T0, 10, 10)
    assert [w.task_id for w in rest] == [3, 4]
    assert store.claim_activities("w3", T0 + timedelta(seconds=5), 10, 10) == []
    expired = store.claim_activities("w3", T0 + timedelta(seconds=11), 10, 10)
    assert [w.task_id for w in expired] == [0, 1, 2, 3, 4]
    assert all(w.dequeue_count == 2 for w in expired)


def test_stale_activity_completion_is_ignored(store: Store) -> None:
    _with_activities(store, 1)
    [stale] = store.claim_activities("w1", T0, 10, 10)
    later = T0 + timedelta(seconds=11)
    [fresh] = store.claim_activities("w2", later, 10, 10)
    assert fresh.item_id == stale.item_id and fresh.lock_token != stale.lock_token

    store.complete_activities([(stale, ev.new_task_completed(later, 0, '"stale"'))])
    assert claim(store, later) is None  # no completion queued by the stale owner
    assert store.has_ready_work(later)  # the activity is still queued (leased by w2)

    store.complete_activities([(fresh, ev.new_task_completed(later, 0, '"fresh"'))])
    # completing twice (e.g. a retry after a lost reply) must not enqueue a duplicate
    store.complete_activities([(fresh, ev.new_task_completed(later, 0, '"dup"'))])
    item = claim(store, later)
    assert item is not None
    assert [m.event.get("Result") for m in item.messages] == ['"fresh"']
    assert item.messages[0].execution_id == "exec-i1"
    assert store.claim_activities("w3", later + timedelta(hours=1), 10, 10) == []


def test_complete_activities_batch(store: Store) -> None:
    _with_activities(store, 3)
    works = store.claim_activities("w1", T0, 60, 10)
    store.complete_activities(
        [(w, ev.new_task_completed(T0, w.task_id, json.dumps(w.task_id))) for w in works]
    )
    item = claim(store)
    assert item is not None
    assert sorted(m.event["TaskScheduledId"] for m in item.messages) == [0, 1, 2]
    assert store.claim_activities("w2", T0 + timedelta(hours=1), 60, 10) == []


def test_release_activity(store: Store) -> None:
    _with_activities(store, 1)
    [work] = store.claim_activities("w1", T0, 3600, 10)
    assert isinstance(work, ActivityWorkItem)
    store.release_activity(work)
    [again] = store.claim_activities("w2", T0, 3600, 10)
    assert again.item_id == work.item_id


def test_commit_can_lease_its_activities_to_the_scheduler(store: Store) -> None:
    create(store, "i1")
    item = claim(store)
    assert item is not None
    commit = first_episode(
        item, activities=[ActivityRequest(i, "hello", json.dumps(str(i))) for i in range(600)]
    )
    commit.lease_owner = "w1"
    commit.lease_until = T0 + timedelta(seconds=10)
    leased = store.commit_episode(item, commit)
    assert [w.task_id for w in leased] == list(range(600))  # more than one insert chunk
    assert len({w.item_id for w in leased}) == 600
    assert {(w.instance_id, w.name, w.dequeue_count) for w in leased} == {("i1", "hello", 1)}
    assert leased[7].input_json == json.dumps("7")
    # leased: nobody else claims them until the lease runs out
    assert store.claim_activities("w2", T0, 10, 1000) == []
    store.complete_activities([(leased[0], ev.new_task_completed(T0, 0, '"done"'))])
    done = claim(store)
    assert done is not None
    assert [m.event.get("Result") for m in done.messages] == ['"done"']
    store.release_orchestration(done)
    expired = store.claim_activities("w2", T0 + timedelta(seconds=11), 10, 1000)
    assert [w.task_id for w in expired] == list(range(1, 600))
    assert all(w.dequeue_count == 2 for w in expired)


def test_commit_without_a_lease_leaves_its_activities_to_be_claimed(store: Store) -> None:
    create(store, "i1")
    item = claim(store)
    assert item is not None
    assert (
        store.commit_episode(item, first_episode(item, activities=[ActivityRequest(0, "a", None)]))
        == []
    )
    assert [w.task_id for w in store.claim_activities("w1", T0, 10, 10)] == [0]


def test_claimed_events_are_what_was_queued_whoever_queued_them(tmp_path: Path) -> None:
    """The claim takes events this store queued without parsing them; others it parses."""
    path = tmp_path / "shared.db"
    writer, other = SqliteStore(path), SqliteStore(path)
    try:
        _with_activities(writer, 3)
        work = writer.claim_activities("w1", T0, 10, 10)
        done = [(w, ev.new_task_completed(T0, w.task_id, f'"r{w.task_id}"')) for w in work]
        writer.complete_activities(done[:2])
        other.complete_activities(done[2:])  # queued by another store object on the same file
        item = writer.claim_orchestration("w1", T0, 60)
        assert item is not None
        assert [m.event for m in item.messages] == [event for _, event in done]
        assert [json.loads(m.text or "") for m in item.messages] == [e for _, e in done]
    finally:
        writer.close()
        other.close()


# -- due timers, suspension, readiness ---------------------------------------------------------
def test_future_message_is_claimable_only_once_due(store: Store) -> None:
    create(store, "i1")
    item = claim(store)
    assert item is not None
    due = T0 + timedelta(seconds=30)
    store.commit_episode(
        item,
        first_episode(
            item,
            messages=[
                OutboundMessage(
                    "i1", ev.new_timer_fired(due, 0, "t"), execution_id="exec-i1", visible_at=due
                )
            ],
        ),
    )
    assert claim(store, T0) is None
    assert not store.has_ready_work(T0)
    assert store.next_visible_at(T0) == due
    just_before = due - timedelta(microseconds=1)
    assert claim(store, just_before) is None
    assert store.next_visible_at(just_before) == due
    assert store.has_ready_work(due)
    fired = claim(store, due)
    assert fired is not None
    assert [m.event["EventType"] for m in fired.messages] == [EventType.TIMER_FIRED]
    assert store.next_visible_at(due) is None


def test_client_messages_are_visible_whatever_the_clock(store: Store) -> None:
    # an enqueued event is visible at once, even to a clock standing in the past
    started_and_running(store, "i1")
    store.enqueue("i1", ev.new_event_raised(T0, "E", "1"))
    assert store.has_ready_work(T0 - timedelta(days=365))
    assert claim(store, T0 - timedelta(days=365)) is not None


def test_suspended_instance_is_claimed_so_its_events_are_recorded(store: Store) -> None:
    started_and_running(store, "i1")
    store.set_status("i1", RuntimeStatus.SUSPENDED, T0)
    store.enqueue("i1", ev.new_event_raised(T0, "E", "1"))
    assert store.pending_event_types("i1") == {EventType.EVENT_RAISED}
    assert store.has_ready_work(T0)
    item = claim(store)
    assert item is not None
    assert [m.event["EventType"] for m in item.messages] == [EventType.EVENT_RAISED]


def test_has_ready_work_counts_leased_activities(store: Store) -> None:
    assert not store.has_ready_work(T0)
    _with_activities(store, 1)
    assert store.has_ready_work(T0)
    [work] = store.claim_activities("w1", T0, 60, 10)
    assert store.has_ready_work(T0)
    store.complete_activities([(work, ev.new_task_completed(T0, 0, "1"))])
    item = claim(store)
    assert item is not None
    store.commit_episode(item, first_episode(item))
    assert not store.has_ready_work(T0)


# -- queries -------------------------------------------------------------------------------------
QUERY_IDS = [
    "a%b-1",
    "a%b-2",
    "a_b-1",
    "axb-1",
    "ab%-1",
    "AB-upper",
    "b-1",
    "b-2",
    "c",
    "c%",
    "tie-1",
    "tie-2",
    "tie-3",
]


def _populate(store: Store) -> dict[str, datetime]:
    created: dict[str, datetime] = {}
    statuses = [RuntimeStatus.RUNNING, RuntimeStatus.COMPLETED, RuntimeStatus.FAILED]
    for index, instance_id in enumerate(QUERY_IDS):
        when = (
            T0 + timedelta(minutes=100)
            if instance_id.startswith("tie")
            else T0 + timedelta(minutes=index)
        )
        create(store, instance_id, created=when)
        store.set_status(instance_id, statuses[index % 3], when)
        created[instance_id] = when
    return created


def _all_pages(store: Store, query: QueryFilter, size: int) -> list[list[str]]:
    pages: list[list[str]] = []
    after: tuple[datetime, str] | None = None
    while True:
        page = store.query(query, size, after)
        if not page:
            return pages
        pages.append([r.instance_id for r in page])
        after = (page[-1].created, page[-1].instance_id)
        assert len(pages) <= len(QUERY_IDS) + 1, "paging does not terminate"


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("a%", {"a%b-1", "a%b-2"}),
        ("a_", {"a_b-1"}),
        ("a%b-", {"a%b-1", "a%b-2"}),
        ("ab%", {"ab%-1"}),
        ("a", {"a%b-1", "a%b-2", "a_b-1", "axb-1", "ab%-1"}),
        ("c%", {"c%"}),
        ("c", {"c", "c%"}),
        ("AB", {"AB-upper"}),
        ("zzz", set()),
    ],
)
def test_query_by_prefix_treats_wildcards_literally(
    store: Store, prefix: str, expected: set[str]
) -> None:
    _populate(store)
    found = store.query(QueryFilter(instance_id_prefix=prefix), 100, None)
    assert {r.instance_id for r in found} == expected


def test_query_by_created_range_and_status(store: Store) -> None:
    created = _populate(store)
    window = QueryFilter(
        created_time_from=T0 + timedelta(minutes=2), created_time_to=T0 + timedelta(minutes=5)
    )
    found = store.query(window, 100, None)
    # bounds are inclusive; ordered by creation
    assert [r.instance_id for r in found] == ["a_b-1", "axb-1", "ab%-1", "AB-upper"]
    only_from = store.query(QueryFilter(created_time_from=T0 + timedelta(minutes=9)), 100, None)
    assert {r.instance_id for r in only_from} == {"c%", "tie-1", "tie-2", "tie-3"}

    failed = store.query(QueryFilter(runtime_status=frozenset({RuntimeStatus.FAILED})), 100, None)
    assert {r.instance_id for r in failed} == {i for n, i in enumerate(QUERY_IDS) if n % 3 == 2}
    two = frozenset({RuntimeStatus.FAILED, RuntimeStatus.RUNNING})
    combined = store.query(
        QueryFilter(
            runtime_status=two, created_time_to=T0 + timedelta(minutes=4), instance_id_prefix="a"
        ),
        100,
        None,
    )
    assert [r.instance_id for r in combined] == ["a%b-1", "a_b-1", "axb-1"]
    assert all(r.created == created[r.instance_id] for r in combined)
    assert (
        store.query(QueryFilter(runtime_status=frozenset({RuntimeStatus.PENDING})), 100, None) == []
    )


@pytest.mark.parametrize("size", [1, 2, 3, 5, 13, 50])
def test_query_paging_covers_every_instance_once(store: Store, size: int) -> None:
    _populate(store)
    pages = _all_pages(store, QueryFilter(), size)
    flat = [i for page in pages for i in page]
    assert sorted(flat) == sorted(QUERY_IDS)
    assert len(flat) == len(set(flat))
    assert all(len(page) <= size for page in pages)
    assert len(pages) == -(-len(QUERY_IDS) // size)
    # pages are in creation order, ties broken by id
    assert flat[-3:] == ["tie-1", "tie-2", "tie-3"]


def test_query_paging_with_filter(store: Store) -> None:
    _populate(store)
    query = QueryFilter(instance_id_prefix="tie")
    assert _all_pages(store, query, 2) == [["tie-1", "tie-2"], ["tie-3"]]


# -- purge ---------------------------------------------------------------------------------------
def test_purge_removes_instance_history_messages_and_activities(store: Store) -> None:
    _with_activities(store, 2)
    timer_at = T0 + timedelta(minutes=1)
    store.enqueue("i1", ev.new_event_raised(T0, "E", "1"))
    create(store, "keep")
    assert store.purge("i1") is True
    assert store.get_instance("i1") is None
    assert store.load_history("i1") == []
    assert store.claim_activities("w1", T0, 60, 10) == []
    items = drain_claims(store, timer_at)
    assert [i.instance.instance_id for i in items] == ["keep"]
    assert store.purge("i1") is False
    assert store.get_instance("keep") is not None


def test_purge_by_filter(store: Store) -> None:
    _populate(store)
    completed = frozenset({RuntimeStatus.COMPLETED})
    expected = {i for n, i in enumerate(QUERY_IDS) if n % 3 == 1}
    assert store.purge_by(QueryFilter(runtime_status=completed)) == len(expected)
    remaining = {r.instance_id for r in store.query(QueryFilter(), 100, None)}
    assert remaining == set(QUERY_IDS) - expected
    assert store.purge_by(QueryFilter(runtime_status=completed)) == 0
    assert store.purge_by(QueryFilter(instance_id_prefix="a%")) == 1  # a%b-2 was Completed
    assert store.get_instance("a_b-1") is not None
    ranged = QueryFilter(created_time_from=T0 + timedelta(minutes=100))
    assert store.purge_by(ranged) == len({"tie-1", "tie-2", "tie-3"} - expected)


# -- durability (file stores) ----------------------------------------------------------------------
def test_file_store_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    first = SqliteStore(path)
    create(first, "i1")
    item = claim(first)
    assert item is not None
    first.commit_episode(item, first_episode(item, activities=[ActivityRequest(0, "a", None)]))
    leased = first.claim_activities("w1", T0, 3600, 10)
    assert len(leased) == 1
    first.close()  # the process dies with the activity leased

    second = SqliteStore(path)
    try:
        assert history_types(second, "i1") == [12, 0, 4, 13]
        assert second.claim_activities("w2", T0, 3600, 10) == []
        second.release_all_leases()
        [work] = second.claim_activities("w2", T0, 3600, 10)
        assert work.task_id == 0
    finally:
        second.close()


def test_schedule_status_is_kept_per_timer_function_and_replaced(store: Store) -> None:
    assert store.get_schedule_status("NightlySync") is None
    store.set_schedule_status("NightlySync", '{"Last": "a"}')
    store.set_schedule_status("NightlySync", '{"Last": "b"}')
    assert store.get_schedule_status("nightlysync") == '{"Last": "b"}'  # names ignore case
    assert store.get_schedule_status("Other") is None


def test_ready_work_of_excluded_instances_does_not_count(store: Store) -> None:
    waiting = record("waiting")
    store.create_instance(waiting, start_event(waiting))
    assert store.has_ready_work(T0)
    assert not store.has_ready_work(T0, exclude={"waiting"})


def test_a_bulk_purge_leaves_no_wal_behind(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    store = SqliteStore(path)
    try:
        big = json.dumps("x" * 20_000)
        for n in range(300):
            create(store, f"p-{n}", input_json=big)
        wal = tmp_path / "hub.db-wal"

        assert store.purge_by(QueryFilter()) == 300

        assert wal.stat().st_size == 0  # checkpointed into the file and cut back
        assert store.query(QueryFilter(), 10, None) == []
    finally:
        store.close()


def test_a_store_that_cannot_be_opened_says_so_in_one_error(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    path.write_bytes(b"this is not a database, and is longer than a header" * 100)
    with pytest.raises(StoreUnavailable, match=f"cannot open the store {path}: "):
        SqliteStore(path)
