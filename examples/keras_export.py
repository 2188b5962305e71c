"""What the Keras examples' train.py share: fit with a fixed seed, then write the float model,
TensorFlow Lite's full-int8 conversion and a few reference outputs. Needs TensorFlow, which
only regenerating the committed files does."""

from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow import keras

SEED = 0
CALIBRATION_SAMPLES = 500
EXPECTED_SAMPLES = 16


def to_tflite_int8(model, x_calibration) -> bytes:
    """TensorFlow Lite's full-int8 conversion (int8 input and output)."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    samples = x_calibration[:CALIBRATION_SAMPLES]
    converter.representative_dataset = lambda: ([x[None]] for x in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def train_and_export(build_model, split, epochs: int, folder: Path, stem: str, h5=False) -> None:
    """Fit build_model() on split; write <stem>.keras (and .h5), <stem>_int8.tflite and
    expected.npz (the first test inputs with Keras' float outputs) into folder."""
    keras.utils.set_random_seed(SEED)
    x_train, x_test, y_train, y_test = split
    model = build_model()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
    _, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Keras float accuracy on the test split: {100 * test_accuracy:.2f} %")
    model.save(folder / f"{stem}.keras")
    if h5:
        model.save(folder / f"{stem}.h5")
    (folder / f"{stem}_int8.tflite").write_bytes(to_tflite_int8(model, x_train))
    inputs = x_test[:EXPECTED_SAMPLES]
    np.savez(folder / "expected.npz", inputs=inputs, outputs=model.predict(inputs, verbose=0))
