"""The batching policy on its own: when an instance's next episode is held back for more of its
own completions, and when it is let go (spec §7.9: only how messages are batched changes)."""

from __future__ import annotations

from durable_local.runtime.batching import HOLD_FACTOR, MAX_HOLD, BatchingPolicy


def fan_out(policy: BatchingPolicy, instance_id: str, started: int, replay: float) -> None:
    """An episode of ``instance_id`` replayed in ``replay`` seconds and scheduled ``started``."""
    policy.replayed(instance_id, replay, history_len=10)
    policy.committed(instance_id, history_len=10, started=started, ended=False)


def test_a_fan_in_is_held_while_its_own_work_is_outstanding() -> None:
    policy = BatchingPolicy(hold_streams=False)
    fan_out(policy, "a", started=3, replay=0.1)
    policy.completed("a", now=100.0)
    held, _ = policy.holds(now=100.0)
    assert held == {"a": 100.0 + HOLD_FACTOR * 0.1}
    assert policy.is_held("a")


def test_the_hold_ends_at_its_deadline_and_the_release_is_reported_once() -> None:
    policy = BatchingPolicy(hold_streams=False)
    fan_out(policy, "a", started=3, replay=0.1)
    policy.completed("a", now=100.0)
    policy.holds(now=100.0)
    held, released = policy.holds(now=100.0 + HOLD_FACTOR * 0.1 + 0.001)
    assert held == {} and released
    assert not policy.is_held("a")
    assert policy.holds(now=101.0) == ({}, False)


def test_the_last_completion_releases_at_once() -> None:
    policy = BatchingPolicy(hold_streams=False)
    fan_out(policy, "a", started=2, replay=0.1)
    policy.completed("a", now=100.0)
    assert policy.holds(now=100.0)[0]
    policy.completed("a", now=100.01)
    held, released = policy.holds(now=100.01)
    assert held == {} and released


def test_a_hold_never_exceeds_max_hold() -> None:
    policy = BatchingPolicy(hold_streams=False)
    fan_out(policy, "a", started=5, replay=30.0)
    policy.completed("a", now=0.0)
    held, _ = policy.holds(now=0.0)
    assert held == {"a": MAX_HOLD}


def test_completions_for_an_instance_that_scheduled_nothing_hold_nothing() -> None:
    policy = BatchingPolicy(hold_streams=False)
    policy.replayed("a", 0.5, history_len=4)
    policy.committed("a", history_len=4, started=0, ended=False)
    policy.completed("a", now=1.0)
    assert policy.holds(now=1.0) == ({}, False)


def test_claiming_the_episode_clears_what_it_waited_for() -> None:
    policy = BatchingPolicy(hold_streams=False)
    fan_out(policy, "a", started=3, replay=0.1)
    policy.completed("a", now=100.0)
    policy.claimed("a")
    assert policy.holds(now=100.0)[0] == {}


def test_events_to_a_running_instance_are_held_only_in_process() -> None:
    in_process = BatchingPolicy(hold_streams=True)
    in_process.replayed("a", 0.2, history_len=4)
    in_process.event_raised("a", now=5.0)
    assert in_process.holds(now=5.0)[0] == {"a": 5.0 + HOLD_FACTOR * 0.2}
    worker_process = BatchingPolicy(hold_streams=False)
    worker_process.replayed("a", 0.2, history_len=4)
    worker_process.event_raised("a", now=5.0)
    assert worker_process.holds(now=5.0)[0] == {}


def test_an_ended_execution_leaves_no_state() -> None:
    policy = BatchingPolicy(hold_streams=False)
    fan_out(policy, "a", started=3, replay=0.1)
    policy.completed("a", now=100.0)
    policy.committed("a", history_len=20, started=0, ended=True)
    assert policy.holds(now=100.0)[0] == {}
    policy.completed("a", now=100.0)  # a late completion for the ended execution
    assert policy.holds(now=100.0)[0] == {}


def test_a_replay_of_a_grown_history_is_expected_to_cost_more() -> None:
    policy = BatchingPolicy(hold_streams=False)
    policy.replayed("a", 0.1, history_len=10)
    # the episode's commit saw a history twice the replayed length
    policy.committed("a", history_len=20, started=4, ended=False)
    policy.completed("a", now=0.0)
    held, _ = policy.holds(now=0.0)
    assert held == {"a": HOLD_FACTOR * 0.1 * 2}
