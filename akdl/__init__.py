"""akdl: TensorFlow scripts inside Apache Flink jobs.

Runs in the TF processes that the Flink operators spawn (and, for the model-row helpers, in any
Python process). Importing ``akdl`` never imports TensorFlow and never changes its behaviour.
"""

from akdl.model_rows import model_rows_to_saved_model, saved_model_to_model_rows

__all__ = ["model_rows_to_saved_model", "saved_model_to_model_rows"]
