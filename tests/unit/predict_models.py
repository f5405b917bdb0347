"""Small real SavedModels for the prediction tests (imported by the test modules)."""

import tensorflow as tf


def save_two_inputs(directory):
    """Signatures over float32 x, y [None]:

    - serving_default -> score = 2x + y [None], vec = stack([x, y], 1) [None, 2];
    - flags -> positive (bool [None, 1]), rounded (int64 [None]), days (int64 [None, 1]),
      batch_total (float32 [1], one value for the whole batch: not a per-row output).
    """

    class TwoInputs(tf.Module):
        @tf.function(
            input_signature=[
                tf.TensorSpec([None], tf.float32, name="x"),
                tf.TensorSpec([None], tf.float32, name="y"),
            ]
        )
        def serve(self, x, y):
            return {"score": x * 2 + y, "vec": tf.stack([x, y], 1)}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def flags(self, x):
            return {
                "positive": tf.expand_dims(x > 0, 1),
                "rounded": tf.cast(tf.round(x), tf.int64),
                "days": tf.expand_dims(tf.cast(x, tf.int64), 1),
                "batch_total": tf.reduce_sum(x, keepdims=True),
            }

    module = TwoInputs()
    tf.saved_model.save(
        module, str(directory), signatures={"serving_default": module.serve, "flags": module.flags}
    )
    return str(directory)


WEIGHTS = [1.0, 2.0, 3.0]


def save_matrix(directory):
    """serving_default over features float32 [None, 3] and count int64 [None, 1]:

    total = features . WEIGHTS + count [None] (float32), scaled = features * WEIGHTS [None, 3].
    """

    class Matrix(tf.Module):
        @tf.function(
            input_signature=[
                tf.TensorSpec([None, 3], tf.float32, name="features"),
                tf.TensorSpec([None, 1], tf.int64, name="count"),
            ]
        )
        def serve(self, features, count):
            scaled = features * tf.constant(WEIGHTS)
            total = tf.reduce_sum(scaled, 1) + tf.cast(count[:, 0], tf.float32)
            return {"total": total, "scaled": scaled}

    module = Matrix()
    tf.saved_model.save(module, str(directory), signatures={"serving_default": module.serve})
    return str(directory)


def save_text(directory):
    """serving_default over text string [None]: length (int32 [None]), upper (string [None])."""

    class Text(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            return {"length": tf.strings.length(text, unit="UTF8_CHAR"),
                    "upper": tf.strings.upper(text)}

    module = Text()
    tf.saved_model.save(module, str(directory), signatures={"serving_default": module.serve})
    return str(directory)


def save_tensor(directory):
    """serving_default over t float32 [None, 2, 3]: row_sums [None, 2], total [None]."""

    class Tensor(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 2, 3], tf.float32, name="t")])
        def serve(self, t):
            return {"row_sums": tf.reduce_sum(t, 2), "total": tf.reduce_sum(t, [1, 2])}

    module = Tensor()
    tf.saved_model.save(module, str(directory), signatures={"serving_default": module.serve})
    return str(directory)


def save_keras(directory):
    """A Keras 3 model exported for serving: features [None, 3] -> output_0 softmax [None, 2].

    Returns the export directory and the Keras model, to compare predictions with.
    """
    import keras

    inputs = keras.Input(shape=(3,), name="features")
    outputs = keras.layers.Dense(2, activation="softmax", name="probs")(inputs)
    model = keras.Model(inputs, outputs)
    model.export(str(directory), format="tf_saved_model", verbose=False)
    return str(directory), model
