"""The wire between Flink and TensorFlow: protocol, codec, schema, channel and process control.

Runs in both processes: the Flink side (operators) and the TF process (akdl). It imports neither
of them, and never imports TensorFlow.
"""
