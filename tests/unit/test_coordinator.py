"""Coordinator: the rules with a fake clock, then real gRPC on loopback with threads as TF tasks."""

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bridge.coordinator.client import CoordinatorClient
from bridge.coordinator.rules import CoordinatorState, EventKind
from bridge.coordinator.server import CoordinatorServer
from bridge.deadline import Deadline
from bridge.errors import (
    CoordinatorError,
    DeadlineExceeded,
    InvalidTaskError,
    ParamError,
    PeerFailedError,
)
from bridge.task_ref import Role, TaskRef

REPO = Path(__file__).resolve().parents[2]


def worker(subtask):
    """The worker task of Flink subtask ``subtask`` (subtask 0 is the chief)."""
    return TaskRef.of_subtask(subtask, num_workers=subtask + 1)


def ps(index, num_workers=3):
    return TaskRef(Role.PS, index, num_workers + index)


def names(tasks):
    return [t.label for t in tasks]


def until(predicate, timeout_s=10.0):
    """Wait for a condition another thread makes true (polls; fails at the timeout)."""
    end = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.01)


def full_state(clock, num_workers=3, num_ps=1):
    state = CoordinatorState(num_workers, num_ps, clock)
    for i in range(num_workers):
        state.register(worker(i), f"w{i}:1", 10 + i)
    for i in range(num_ps):
        state.register(ps(i), f"p{i}:1")
    return state


# --- CoordinatorState: rendezvous ----------------------------------------------------------------


def test_counts_are_validated():
    with pytest.raises(ParamError):
        CoordinatorState(0, 1)
    with pytest.raises(ParamError):
        CoordinatorState(1, -1)


def test_cluster_only_when_every_task_registered(clock):
    state = CoordinatorState(2, 1, clock)
    assert state.register(worker(1), "h1:11", 333) == 1
    assert state.rendezvous().cluster is None
    assert names(state.rendezvous().missing) == ["chief:0", "ps:0"]
    state.register(ps(0), "hp:20")
    clock.advance(7)
    view = state.rendezvous()
    assert not view.complete and view.waited_s == 7
    state.register(worker(0), "h0:10", 334)
    cluster = state.rendezvous().cluster
    assert cluster.worker_addresses == ("h0:10", "h1:11")
    assert cluster.ps_addresses == ("hp:20",)
    assert cluster.worker_dataset_lengths == (334, 333)
    assert cluster.round == 1
    assert state.rendezvous().missing == ()


def test_tasks_outside_the_job_are_rejected(clock):
    state = CoordinatorState(2, 1, clock)
    for bad in (worker(2), ps(1), TaskRef(Role.WORKER, -1, 0)):
        with pytest.raises(InvalidTaskError):
            state.register(bad, "h:1")
    with pytest.raises(InvalidTaskError, match="round 5"):
        state.register(worker(0), "h:1", round_number=5)


def test_restarted_task_replaces_its_address(clock):
    state = full_state(clock)
    state.register(worker(2), "new:9", 99)
    cluster = state.rendezvous().cluster
    assert cluster.worker_addresses[2] == "new:9"
    assert cluster.worker_dataset_lengths[2] == 99
    assert cluster.round == 1


def test_wait_rendezvous_returns_at_once_when_complete_and_times_out_otherwise(clock):
    state = CoordinatorState(1, 1, clock)
    state.register(worker(0), "h:1")
    assert not state.wait_rendezvous(1, 0).complete
    state.register(ps(0), "h:2")
    assert state.wait_rendezvous(1, 0).complete


def test_close_wakes_waiters(clock):
    state = CoordinatorState(2, 0, clock)
    returned = queue.Queue()
    waiter = threading.Thread(target=lambda: returned.put(state.wait_event(1, 30)))
    waiter.start()
    state.close()  # before or during the wait: either way the waiter returns at once
    assert returned.get(timeout=5) is None
    waiter.join(5)


# --- CoordinatorState: abort ------------------------------------------------------------------


def test_failure_aborts_the_round_for_every_task(clock):
    state = full_state(clock)
    outcome = state.report_done(worker(1), False, "ValueError: boom")
    assert outcome.kind is EventKind.ABORT
    assert outcome.failed_task.label == "worker:0"
    assert outcome.reason == "ValueError: boom"
    assert state.rendezvous().outcome == outcome  # what every task's Watch answers
    assert state.wait_event(1, 0) == outcome


def test_cancel_aborts_the_running_round_without_a_failed_task(clock):
    state = full_state(clock)
    outcome = state.cancel("the job was cancelled")
    assert outcome.kind is EventKind.ABORT and outcome.failed_task is None
    assert outcome.reason == "the job was cancelled"
    assert state.rendezvous().outcome == outcome
    assert state.cancel("again") is None  # an ended round stays as it ended
    assert state.report_done(worker(1), False, "late") == outcome
    state.register(worker(0), "w0:2")
    assert state.rendezvous().round == 2  # the next execution starts afresh


def test_only_the_first_failure_counts(clock):
    state = full_state(clock)
    first = state.report_done(worker(2), False, "first")
    assert state.report_done(worker(0), False, "second") == first
    assert state.report_done(worker(1), True) == first
    assert state.rendezvous().outcome.reason == "first"


def test_failure_before_the_rendezvous_completes_aborts_waiting_registrations(clock):
    state = CoordinatorState(2, 0, clock)
    state.register(worker(0), "h:1")
    state.report_done(worker(1), False, "died while spooling")
    view = state.wait_rendezvous(1, 0)
    assert not view.complete
    assert view.outcome.kind is EventKind.ABORT and view.outcome.reason == "died while spooling"


def test_failure_without_summary_still_names_the_task(clock):
    state = full_state(clock)
    assert "ps:0" in state.report_done(ps(0), False).reason


# --- CoordinatorState: finish -----------------------------------------------------------------


def test_finish_needs_the_chief_and_every_worker_that_is_not_serve_only(clock):
    state = full_state(clock)
    assert state.report_done(worker(1), True) is None
    assert state.report_done(worker(2), True) is None
    assert state.rendezvous().outcome is None
    outcome = state.report_done(worker(0), True)
    assert outcome.kind is EventKind.FINISH
    assert state.rendezvous().outcome == outcome


def test_chief_success_alone_does_not_finish_while_a_worker_runs(clock):
    state = full_state(clock, num_workers=2)
    assert state.report_done(worker(0), True) is None
    assert state.wait_event(1, 0) is None
    assert state.report_done(worker(1), True).kind is EventKind.FINISH


def test_serve_only_workers_are_not_waited_for(clock):
    # TF2 ParameterServerStrategy: non-chief workers and ps only server.join().
    state = full_state(clock)
    state.mark_serve_only(worker(1))
    state.mark_serve_only(worker(2))
    assert state.report_done(worker(0), True).kind is EventKind.FINISH


def test_marking_serve_only_after_chief_success_finishes(clock):
    state = full_state(clock, num_workers=2)
    state.report_done(worker(0), True)
    assert state.rendezvous().outcome is None
    assert state.mark_serve_only(worker(1)).kind is EventKind.FINISH


def test_done_report_can_mark_serve_only(clock):
    state = full_state(clock, num_workers=2)
    state.report_done(worker(1), True, serve_only=True)
    assert state.report_done(worker(0), True).kind is EventKind.FINISH


def test_the_chief_cannot_be_serve_only(clock):
    state = full_state(clock)
    with pytest.raises(InvalidTaskError, match="chief"):
        state.mark_serve_only(worker(0))


def test_ps_are_always_serve_only_and_their_reports_after_finish_are_ignored(clock):
    state = full_state(clock, num_workers=1, num_ps=2)
    finish = state.report_done(worker(0), True)
    assert finish.kind is EventKind.FINISH
    assert state.report_done(ps(0), False, "killed by the runner") == finish


def test_serve_only_task_failing_before_finish_aborts(clock):
    state = full_state(clock)
    state.mark_serve_only(worker(1))
    assert state.report_done(worker(1), False, "server crashed").kind is EventKind.ABORT


# --- CoordinatorState: rounds -----------------------------------------------------------------


def test_register_after_finish_starts_a_fresh_round(clock):
    state = full_state(clock, num_workers=2)
    state.report_done(worker(0), True)
    state.report_done(worker(1), True)
    clock.advance(50)
    assert state.register(worker(1), "again:1", 5) == 2
    view = state.rendezvous()
    assert view.round == 2 and view.outcome is None and view.waited_s == 0
    assert names(view.missing) == ["chief:0", "ps:0"]
    assert state.rendezvous(1).outcome.kind is EventKind.FINISH


def test_register_after_abort_starts_a_fresh_round(clock):
    state = full_state(clock)
    state.report_done(worker(1), False, "boom")
    assert state.register(worker(0), "h:1") == 2
    assert state.rendezvous().outcome is None


def test_late_calls_for_an_ended_round_do_not_touch_the_next(clock):
    state = full_state(clock, num_workers=2)
    state.report_done(worker(1), False, "boom")
    state.register(worker(0), "round2:1")
    # A long poll of round 1 repeating itself gets round 1's abort, not a seat in round 2.
    assert state.register(worker(1), "late:1", round_number=1) == 1
    assert state.rendezvous(1).outcome.kind is EventKind.ABORT
    assert names(state.rendezvous(2).missing) == ["worker:0", "ps:0"]
    # A done report of round 1 is ignored by round 2.
    state.report_done(worker(1), False, "late failure", round_number=1)
    assert state.rendezvous(2).outcome is None


def test_very_old_rounds_are_forgotten_but_still_read_as_ended(clock):
    state = CoordinatorState(1, 0, clock)
    for _ in range(20):
        state.register(worker(0), "h:1")
        state.report_done(worker(0), True)
    assert state.rendezvous().round == 20
    assert state.wait_event(1, 0).kind is EventKind.ABORT
    assert state.rendezvous(1).outcome.kind is EventKind.ABORT


def test_resolve_round(clock):
    state = CoordinatorState(1, 0, clock)
    assert state.resolve_round(worker(0)) == 1
    with pytest.raises(InvalidTaskError):
        state.resolve_round(worker(1))


# --- gRPC: real server and clients on loopback ----------------------------------------------------


@pytest.fixture
def make_server():
    servers = []

    def make(num_workers=3, num_ps=1, **kwargs):
        server = CoordinatorServer(num_workers, num_ps, **kwargs)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close(0.1)


@pytest.fixture
def make_client():
    clients = []

    def make(server, task, token=None, timeout_s=5.0, address=None):
        client = CoordinatorClient(address or server.address, token or server.token, task,
                                   timeout_s)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def rendezvous(timeout_s=10.0):
    return CoordinatorClient.rendezvous_deadline(timeout_s)


def register_all(server, make_client, tasks, lengths=None):
    """Register tasks from threads in random order; returns {name: (client, cluster or error)}."""
    lengths = lengths or {}
    results = {}
    order = list(tasks)
    random.shuffle(order)

    def run(task):
        client = make_client(server, task)
        time.sleep(random.uniform(0, 0.2))
        port = 5000 + (100 + task.index if task.role is Role.PS else task.subtask)
        try:
            got = client.register("127.0.0.1", port, lengths.get(task.label, 0),
                                  rendezvous())
        except Exception as exc:  # noqa: BLE001 - reported to the test
            got = exc
        results[task.label] = (client, got)

    threads = [threading.Thread(target=run, args=(t,)) for t in order]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def all_tasks(num_workers, num_ps):
    return [worker(i) for i in range(num_workers)] + [ps(i) for i in range(num_ps)]


def test_server_defaults(make_server):
    server = make_server()
    assert server.address.startswith("127.0.0.1:")
    assert len(server.token) == 32
    assert make_server(token="given").token == "given"


def test_rendezvous_gives_every_task_the_same_cluster(make_server, make_client):
    server = make_server(3, 1)
    lengths = {"chief:0": 334, "worker:0": 333, "worker:1": 0}
    results = register_all(server, make_client, all_tasks(3, 1), lengths)
    clusters = {name: got for name, (_, got) in results.items()}
    assert sorted(clusters) == ["chief:0", "ps:0", "worker:0", "worker:1"]
    first = clusters["chief:0"]
    assert not isinstance(first, Exception), first
    assert all(c == first for c in clusters.values())
    assert first.worker_addresses == ("127.0.0.1:5000", "127.0.0.1:5001", "127.0.0.1:5002")
    assert first.ps_addresses == ("127.0.0.1:5100",)
    assert first.worker_dataset_lengths == (334, 333, 0)
    assert first.round == 1


def test_wrong_token_is_rejected(make_server, make_client):
    server = make_server(1, 0)
    client = make_client(server, worker(0), token="wrong")
    with pytest.raises(CoordinatorError) as info:
        client.register("127.0.0.1", 1, 0, rendezvous())
    assert info.value.code == "UNAUTHENTICATED"
    with pytest.raises(CoordinatorError, match="UNAUTHENTICATED"):
        client.report_done(False, "x")
    lost = queue.Queue()
    client.watch(lambda event: lost.put(event), on_lost=lost.put)
    assert isinstance(lost.get(timeout=5), CoordinatorError)
    # Nothing reached the state.
    assert names(server.state.rendezvous().missing) == ["chief:0"]
    assert server.state.rendezvous().outcome is None


def test_rendezvous_timeout_names_the_missing_tasks(make_server, make_client):
    server = make_server(3, 1)
    errors = queue.Queue()

    def run(task):
        client = make_client(server, task)
        try:
            client.register("127.0.0.1", 1, 0, rendezvous(timeout_s=1.0))
        except DeadlineExceeded as exc:
            errors.put(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in (worker(0), worker(1))]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    elapsed = time.monotonic() - started
    assert errors.qsize() == 2
    error = errors.get()
    assert error.missing == "worker:1 (subtask 2), ps:0 (subtask 3)"
    assert error.setting == "rendezvousTimeoutS"
    assert "worker:1 (subtask 2), ps:0 (subtask 3)" in str(error)
    assert "rendezvousTimeoutS" in str(error)
    assert 0.9 <= elapsed < 3.0


def test_unreachable_coordinator_fails_at_the_rendezvous_deadline(make_server, make_client):
    server = make_server(1, 0)
    dead_address = server.address
    server.close(0)
    client = make_client(server, worker(0), address=dead_address)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="coordinator") as info:
        client.register("127.0.0.1", 1, 0, rendezvous(timeout_s=0.5))
    assert info.value.setting == "rendezvousTimeoutS"
    assert time.monotonic() - started < 3.0


def test_task_outside_the_job_is_rejected_over_grpc(make_server, make_client):
    server = make_server(2, 0)
    client = make_client(server, ps(0))
    with pytest.raises(CoordinatorError) as info:
        client.register("127.0.0.1", 1, 0, rendezvous())
    assert info.value.code == "INVALID_ARGUMENT"
    assert "ps:0" in str(info.value)


def watch_all(clients):
    """Start a watcher per client; returns {name: queue of events}."""
    events = {}
    for name, client in clients.items():
        events[name] = queue.Queue()
        client.watch(events[name].put)
    return events


def test_abort_reaches_every_watcher(make_server, make_client):
    server = make_server(3, 1)
    results = register_all(server, make_client, all_tasks(3, 1))
    clients = {name: client for name, (client, _) in results.items()}
    events = watch_all(clients)
    clients["worker:0"].report_done(False, "ValueError: boom on worker 1")
    for name, got in events.items():
        event = got.get(timeout=5)
        assert event.kind is EventKind.ABORT, name
        assert event.failed_task.label == "worker:0"
        assert event.reason == "ValueError: boom on worker 1"
        assert event.round == 1


def test_abort_ends_a_waiting_rendezvous(make_server, make_client):
    server = make_server(2, 0)
    chief = make_client(server, worker(0))
    errors = queue.Queue()

    def run():
        try:
            chief.register("127.0.0.1", 1, 0, rendezvous(timeout_s=30))
        except PeerFailedError as exc:
            errors.put(exc)

    thread = threading.Thread(target=run)
    thread.start()
    until(lambda: worker(0) not in server.state.rendezvous().missing)
    started = time.monotonic()
    make_client(server, worker(1)).report_done(False, "OSError: disk full while spooling")
    error = errors.get(timeout=5)
    thread.join(5)
    assert time.monotonic() - started < 3.0
    assert error.failed_task == "worker:0"
    assert "disk full" in error.reason and "worker:0" in str(error)


def test_finish_reaches_serve_only_tasks_after_chief_success(make_server, make_client):
    # TF's parameter-server tutorial: the chief runs a ClusterCoordinator, everyone else joins.
    server = make_server(3, 1)
    results = register_all(server, make_client, all_tasks(3, 1))
    clients = {name: client for name, (client, _) in results.items()}
    clients["worker:0"].mark_serve_only()
    clients["worker:1"].mark_serve_only()
    events = watch_all(clients)
    until(lambda: len(server.state.rendezvous().missing) == 0)
    assert server.state.rendezvous().outcome is None  # the serve-only marks alone finish nothing
    clients["chief:0"].report_done(True)
    for name in ("ps:0", "worker:0", "worker:1", "chief:0"):
        assert events[name].get(timeout=5).kind is EventKind.FINISH, name


def test_finish_waits_for_a_worker_still_running(make_server, make_client):
    server = make_server(2, 1)
    results = register_all(server, make_client, all_tasks(2, 1))
    clients = {name: client for name, (client, _) in results.items()}
    events = watch_all(clients)
    clients["chief:0"].report_done(True)
    with pytest.raises(queue.Empty):
        events["ps:0"].get(timeout=0.5)
    assert events["worker:0"].empty()
    clients["worker:0"].report_done(True)
    assert events["ps:0"].get(timeout=5).kind is EventKind.FINISH
    assert events["worker:0"].get(timeout=5).kind is EventKind.FINISH


def test_chief_cannot_mark_itself_serve_only(make_server, make_client):
    server = make_server(2, 0)
    with pytest.raises(CoordinatorError, match="INVALID_ARGUMENT"):
        make_client(server, worker(0)).mark_serve_only()


def test_a_second_execution_is_a_new_round(make_server, make_client):
    server = make_server(2, 1)
    first = register_all(server, make_client, all_tasks(2, 1))
    clients = {name: client for name, (client, _) in first.items()}
    events = watch_all({"ps:0": clients["ps:0"]})
    clients["chief:0"].report_done(True)
    clients["worker:0"].report_done(True)
    assert events["ps:0"].get(timeout=5).kind is EventKind.FINISH
    second = register_all(server, make_client, all_tasks(2, 1), {"worker:0": 7})
    clusters = [got for _, got in second.values()]
    assert all(c.round == 2 for c in clusters)
    assert clusters[0].worker_dataset_lengths == (0, 7)
    assert server.state.rendezvous().outcome is None


def test_watch_thread_stops_on_close(make_server, make_client):
    server = make_server(1, 0)
    client = make_client(server, worker(0))
    client.register("127.0.0.1", 1, 0, rendezvous())
    thread = client.watch(lambda event: None)
    assert thread.daemon and thread.is_alive()
    client.close()
    thread.join(5)
    assert not thread.is_alive()


def test_watch_reports_a_lost_coordinator(make_server, make_client):
    server = make_server(1, 0)
    client = make_client(server, worker(0), timeout_s=1.0)
    client.register("127.0.0.1", 1, 0, rendezvous())
    lost = queue.Queue()
    client.watch(lambda event: lost.put(event), on_lost=lost.put)
    server.close(0)
    assert isinstance(lost.get(timeout=10), CoordinatorError)


def test_every_client_call_has_a_deadline(make_server, make_client):
    server = make_server(1, 0)
    dead_address = server.address
    server.close(0)
    client = make_client(server, worker(0), timeout_s=0.5, address=dead_address)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="rpcTimeoutS"):
        client.report_done(True)
    assert time.monotonic() - started < 3.0


def test_standalone_entry_serves_until_sigterm():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge.coordinator", "--workers", "1", "--ps", "0"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        address, token = proc.stdout.readline().split()
        client = CoordinatorClient(address, token, worker(0), 5.0)
        try:
            cluster = client.register("127.0.0.1", 4242, 3, Deadline(10, "test"))
        finally:
            client.close()
        assert cluster.worker_addresses == ("127.0.0.1:4242",)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_a_solo_task_is_answered_at_once_and_still_gets_the_abort(make_server, make_client):
    # Predict tasks need no cluster: a stage's other tasks may never start (no rows).
    server = make_server(3, 0)
    client = make_client(server, worker(2))
    started = time.monotonic()
    cluster = client.register("127.0.0.1", 7002, 0, rendezvous(timeout_s=30), solo=True)
    assert time.monotonic() - started < 2.0
    assert cluster.worker_addresses == ("127.0.0.1:7002",) and cluster.round == 1
    events = queue.Queue()
    client.watch(events.put)
    server.cancel("the job was cancelled")
    event = events.get(timeout=5)
    assert event.kind is EventKind.ABORT and event.failed_task is None


# -- rule 5: attempts (Flink restarts) --


def test_a_restarted_task_aborts_the_running_round_and_starts_a_fresh_one():
    state = CoordinatorState(2, 0)
    state.register(worker(0), "w0:1", 5)
    state.register(worker(1), "w1:1", 5)
    assert state.rendezvous().complete
    restarted = worker(1).with_attempt(1)
    number = state.register(restarted, "w1:2", 5)
    assert number == 2
    old = state.rendezvous(1).outcome
    assert old.kind is EventKind.ABORT and old.failed_task == worker(1)
    assert "restarted by Flink (attempt 1)" in old.reason
    fresh = state.rendezvous(2)
    assert not fresh.complete and names(fresh.missing) == ["chief:0"]
    state.register(worker(0).with_attempt(1), "w0:2", 5)
    assert state.rendezvous(2).cluster.worker_addresses == ("w0:2", "w1:2")


def test_a_newer_attempt_of_a_task_not_yet_registered_joins_the_round():
    state = CoordinatorState(2, 0)
    state.register(worker(0), "w0:1", 5)
    assert state.register(worker(1).with_attempt(1), "w1:2", 5) == 1
    view = state.rendezvous(1)
    assert view.complete and view.outcome is None


def test_a_stale_attempt_is_rejected_and_its_reports_are_ignored():
    state = CoordinatorState(2, 0)
    state.register(worker(0), "w0:1", 5)
    state.register(worker(1).with_attempt(2), "w1:1", 5)
    stale = "attempt 1 is stale: Flink restarted it as attempt 2"
    with pytest.raises(InvalidTaskError, match=stale):
        state.register(worker(1).with_attempt(1), "w1:0", 5)
    assert state.report_done(worker(1).with_attempt(1), False, "late failure") is None
    assert state.rendezvous().outcome is None


def test_a_restarted_solo_task_does_not_abort_its_peers():
    state = CoordinatorState(2, 0)
    state.register(worker(0), "w0:1", 0, solo=True)
    state.register(worker(1), "w1:1", 0, solo=True)
    assert state.register(worker(1).with_attempt(1), "w1:2", 0, solo=True) == 1
    assert state.rendezvous(1).outcome is None


def test_attempts_travel_over_grpc():
    with CoordinatorServer(1, 0) as server:
        client = CoordinatorClient(server.address, server.token, worker(0).with_attempt(3), 5.0)
        try:
            client.register("127.0.0.1", 1, 0, Deadline(10, "rendezvous"))
            stale = CoordinatorClient(server.address, server.token, worker(0).with_attempt(2), 5.0)
            try:
                with pytest.raises(CoordinatorError, match="attempt 2 is stale"):
                    stale.register("127.0.0.1", 2, 0, Deadline(10, "rendezvous"))
            finally:
                stale.close()
        finally:
            client.close()
