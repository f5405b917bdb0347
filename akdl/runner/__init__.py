"""The TF-process runner: runs inside the TF process started for each Flink subtask."""
