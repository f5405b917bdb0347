"""Alink's ``akdl`` modules that akdl does not provide, and what to use instead.

Alink's sample scripts import TF1- and Estimator-era helpers (``akdl.engine.*``,
``akdl.runner.io_helper``, ...). TensorFlow 2.20 has no Estimator and akdl never switches TF into
TF1 mode, so those modules are gone. Importing one raises :class:`RetiredModuleError`, a
``ModuleNotFoundError`` whose message says what the module was, why it is gone and what to use;
:func:`install` puts the finder that does this on ``sys.meta_path`` (``import akdl`` calls it).
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["RETIRED", "RetiredModuleError", "install"]

_ESTIMATOR = "TensorFlow 2.20 has no tf.estimator, and akdl never switches TensorFlow into TF1 mode"
_KERAS = "plain Keras (keras.Model with a custom training loop, see akdl.models.tf.dnn)"
_MODELS = (
    "akdl provides only the DNN models (akdl.models.tf.dnn.dnn_batch, dnn_stream, dnn_train); "
    "port the model to Keras and run it with TensorFlowBatchOp or TFTableModelTrainBatchOp"
)

# module -> (what it was, why it is gone, what to use instead)
RETIRED: dict[str, tuple[str, str, str]] = {
    "akdl.engine": (
        "Alink's Estimator training helpers", _ESTIMATOR,
        f"akdl.models.tf.dnn.* for the bundled DNN, or {_KERAS}",
    ),
    "akdl.engine.inputs": (
        "Estimator input functions (get_dataset_fn, parse_feature_specs, "
        "get_feature_placeholders)", _ESTIMATOR,
        "tf.data.TFRecordDataset(task_config.dataset_file) (or task_config.dataset_fn() in a "
        "stream) with tf.io.parse_example and akdl.data.feature_spec(akdl.data.input_schema("
        "task_config))",
    ),
    "akdl.engine.run_config": (
        "a tf.estimator.RunConfig built from TF_CONFIG (it called disable_v2_behavior())",
        _ESTIMATOR,
        "akdl.distribute.strategy_from_tf_config() for the tf.distribute strategy TF_CONFIG "
        "implies",
    ),
    "akdl.engine.train": (
        "train_estimator / train_keras_model (Estimator train_and_evaluate and export)",
        _ESTIMATOR,
        f"{_KERAS}; export with tf.saved_model.save into task_config.saved_model_dir",
    ),
    "akdl.engine.early_stopping": (
        "a copy of the Estimator early-stopping hooks", _ESTIMATOR,
        "keras.callbacks.EarlyStopping, or a check in your own training loop",
    ),
    "akdl.entry": (
        "Alink's process entry points", "akdl's runner (python -m akdl.runner) replaces them",
        "nothing: akdl calls your main(task_config) itself",
    ),
    "akdl.runner.io_helper": (
        "TF1 gfile helpers and output_model_to_flink", "they used TF1 gfile and sessions",
        "akdl.saved_model_to_model_rows(saved_model_dir, name) and "
        "task_config.output_writer.write_row({...}) (or TFTableModelTrainBatchOp, which turns "
        "the exported SavedModel into model rows itself)",
    ),
    "akdl.runner.tf_helper": (
        "TF1 session tricks (set_intra_op_parallelism, preview_tfrecords_file)",
        "they used TF1 sessions",
        "the operator's intraOpParallelism parameter; tf.data.TFRecordDataset to read records",
    ),
    "akdl.models.tf.dnn.dnn_tensor": ("an Estimator DNN over one tensor column", _ESTIMATOR,
                                      _MODELS),
    "akdl.models.tf.keras_sequential": ("the KerasSequential* operators' Estimator wrapper",
                                        _ESTIMATOR, _MODELS),
    "akdl.models.tf.deepar": ("DeepAR (Keras converted to an Estimator)", _ESTIMATOR, _MODELS),
    "akdl.models.tf.lstnet": ("LSTNet (Keras converted to an Estimator)", _ESTIMATOR, _MODELS),
    "akdl.models.tf.easytransfer": ("BERT through EasyTransfer (TF1)", _ESTIMATOR, _MODELS),
    "akdl.models.tf.easyrec": ("EasyRec training (an Estimator library)", _ESTIMATOR, _MODELS),
    "akdl.models.tf.tft": ("the Temporal Fusion Transformer research code (TF1 sessions)",
                           _ESTIMATOR, _MODELS),
}


# The retired names that were packages in Alink: they load as stubs, so that an import of one of
# their modules names that module.
_PACKAGES = frozenset({
    "akdl.engine", "akdl.entry", "akdl.models.tf.keras_sequential", "akdl.models.tf.deepar",
    "akdl.models.tf.lstnet", "akdl.models.tf.easytransfer", "akdl.models.tf.easyrec",
    "akdl.models.tf.tft",
})


class RetiredModuleError(ModuleNotFoundError):
    """An Alink ``akdl`` module that akdl does not provide was imported.

    Attributes:
        module: the module that was imported.
    """

    def __init__(self, fullname: str):
        name, (what, why, instead) = _entry(fullname)
        part = "" if fullname == name else f" (part of {name})"
        super().__init__(
            f"No module named {fullname!r}: Alink's {fullname}{part} was {what}. akdl does not "
            f"provide it because {why}. Use instead: {instead}. See docs/alink-migration.md."
        )
        # ``name`` stays None: the import system silently drops a ModuleNotFoundError of a
        # ``from package import module`` whose name is the module's.
        self.module = fullname


def _entry(fullname: str) -> tuple[str, tuple[str, str, str]] | None:
    """The retired module ``fullname`` is, or lies in."""
    parts = fullname.split(".")
    for end in range(len(parts), 1, -1):
        name = ".".join(parts[:end])
        if name in RETIRED:
            return name, RETIRED[name]
    return None


class _RetiredPackage(importlib.abc.Loader):
    """Loads a retired package as an empty stub, so that importing one of its modules names it.

    ``import akdl.engine.inputs`` imports ``akdl.engine`` first; the stub lets the error name
    ``akdl.engine.inputs``. Any attribute of the stub raises the error for that module.
    """

    def create_module(self, spec: Any) -> None:
        """The default module object."""
        return None

    def exec_module(self, module: Any) -> None:
        """Make every attribute access raise for ``<package>.<attribute>``."""
        fullname = module.__name__

        def missing(attribute: str) -> Any:
            if attribute.startswith("__"):
                raise AttributeError(attribute)
            raise RetiredModuleError(f"{fullname}.{attribute}")

        module.__getattr__ = missing


class _RetiredModuleFinder(importlib.abc.MetaPathFinder):
    """Answers an import of a retired module with a :class:`RetiredModuleError`."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: Any = None
    ) -> Any:
        """A stub for a retired package, an error for a retired module, else ``None``."""
        if _entry(fullname) is None:
            return None
        if fullname in _PACKAGES:
            return importlib.util.spec_from_loader(fullname, _RetiredPackage(), is_package=True)
        raise RetiredModuleError(fullname)


def install() -> None:
    """Put the finder on ``sys.meta_path`` once (before the path finders)."""
    if not any(isinstance(f, _RetiredModuleFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _RetiredModuleFinder())
