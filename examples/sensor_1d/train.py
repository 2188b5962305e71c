"""Train the 1-D sensor model with Keras and write the files this example commits.

Needs TensorFlow (only to regenerate: `pip install tensorflow-cpu==2.21.0 scikit-learn`):

    python examples/sensor_1d/train.py

writes, next to this script:
  sensor_1d.keras        the float model (Conv1D, tanh, sigmoid, residual Add, pooling)
  sensor_1d_int8.tflite  TensorFlow Lite's own full-int8 conversion of it
  expected.npz           a few test inputs and Keras' float outputs for them (importer tests)
"""

import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow import keras

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from datasets import SENSOR_CLASSES, SENSOR_STEPS, sensor_split  # noqa: E402

EPOCHS = 40
EXPECTED_SAMPLES = 16


def build_model() -> keras.Model:
    layers = keras.layers
    inputs = keras.Input((SENSOR_STEPS, 3), name="accelerometer")
    x = layers.Conv1D(16, 5, strides=2, padding="same", activation="tanh", name="stem")(inputs)
    y = layers.Conv1D(16, 3, padding="same", activation="relu", name="branch_a")(x)
    y = layers.Conv1D(16, 3, padding="same", name="branch_b")(y)
    y = layers.Activation("sigmoid", name="gate")(y)
    x = layers.Add(name="residual")([x, y])
    x = layers.MaxPooling1D(2, name="pool")(x)
    x = layers.GlobalAveragePooling1D(name="average")(x)
    outputs = layers.Dense(len(SENSOR_CLASSES), activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="sensor_1d")


def to_tflite(model, x_calibration) -> bytes:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[None]] for x in x_calibration[:500])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def main() -> None:
    keras.utils.set_random_seed(0)
    x_train, x_test, y_train, y_test = sensor_split()
    model = build_model()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=32, verbose=0)
    _, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Keras float accuracy on the test split: {100 * test_accuracy:.2f} %")
    model.save(HERE / "sensor_1d.keras")
    (HERE / "sensor_1d_int8.tflite").write_bytes(to_tflite(model, x_train))
    inputs = x_test[:EXPECTED_SAMPLES]
    np.savez(HERE / "expected.npz", inputs=inputs, outputs=model.predict(inputs, verbose=0))


if __name__ == "__main__":
    main()
