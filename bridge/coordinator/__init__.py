"""The job coordinator: rendezvous of a stage's TF processes, done reports, abort and finish.

One coordinator serves one TF stage of one job. Its modules, one job each:

* `bridge.coordinator.rules`: :class:`CoordinatorState`, the rules as a plain, thread-safe
  object (no gRPC), with the values it hands out;
* `bridge.coordinator.server`: :class:`CoordinatorServer`, the gRPC server over the rules (runs
  in the Flink driver, or standalone);
* `bridge.coordinator.client`: :class:`CoordinatorClient`, a TF process's connection to it;
* `bridge.coordinator.messages`: the translation between the rules' values and the protos;
* ``python -m bridge.coordinator``: a standalone coordinator, for detached submission.

Rules (``CoordinatorState`` enforces them; the servicer only translates messages):
    1. **Rendezvous.** Every task registers ``(task, host:port, dataset_length)``. Once all
       ``num_workers + num_ps`` tasks of the round have registered, each of them receives the
       same cluster: the workers' addresses in subtask order (the chief first), the ps', and
       every worker's shard size. ``Register`` is a long poll: the server holds it for a short
       slice, and the client calls again until its own rendezvous deadline, whose error names
       the tasks that never registered and the ``rendezvousTimeoutS`` parameter.
    2. **Abort.** As soon as any task reports failure, the round is aborted and every task is
       sent ABORT carrying the failed task and its error summary, so peers blocked in a
       collective are ended by their runner instead of hanging. Tasks still waiting in the
       rendezvous get the abort as the answer to ``Register``. Only the first failure counts.
    3. **Finish.** FINISH is sent when the chief has reported success AND every worker not
       marked serve-only has reported success. PS are always serve-only. A task is serve-only
       when it will only ``server.join()`` (a ps, or a worker under TF2
       ``ParameterServerStrategy``): its runner ends it when FINISH arrives. The chief cannot be
       serve-only (the job would never end).
    4. **Rounds.** A job graph may run more than once (``print()`` then ``collect()``). Each
       run is a round with its own number. Once a round has finished or aborted, the next
       ``Register`` that does not name a round starts a new round with all state reset. Calls
       name the round they belong to, so a late call for an ended round never leaks into the
       next one. A ``Register`` for a task already registered in a running round replaces its
       address.
    5. **Attempts.** Every call carries Flink's attempt number of the task's subtask. A task
       that registers with a newer attempt than the one in the running round was restarted by
       Flink: the round is aborted (its peers end and are restarted too) and the new attempt
       starts a fresh round. A call from an attempt older than the newest seen is stale and is
       rejected (``Register``) or ignored (done reports).
    6. After a round has ended, further done reports for it are ignored.

Security: every call must carry the job token in the ``akdl-token`` metadata; other calls are
rejected with UNAUTHENTICATED.
"""
