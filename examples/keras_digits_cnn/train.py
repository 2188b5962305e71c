"""Train the digits CNN with Keras and write the files this example commits.

Needs TensorFlow (only to regenerate: `pip install tensorflow-cpu==2.21.0 scikit-learn`):

    python examples/keras_digits_cnn/train.py

writes, next to this script:
  digits_cnn.keras        the float model (Keras 3 zip: config.json + model.weights.h5)
  digits_cnn.h5           the same model in the legacy HDF5 format
  digits_cnn_int8.tflite  TensorFlow Lite's own full-int8 conversion of it
  expected.npz            a few test inputs and Keras' float outputs for them (importer tests)
"""

import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow import keras

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from datasets import digits_split  # noqa: E402

EPOCHS = 60
EXPECTED_SAMPLES = 16


def build_model() -> keras.Model:
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.DepthwiseConv2D(3, padding="same", activation="relu"),
            layers.Conv2D(24, 1, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.AveragePooling2D(2),
            layers.Flatten(),
            layers.Dense(10),
            layers.Softmax(),
        ],
        name="digits_cnn",
    )


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
    x_train, x_test, y_train, y_test = digits_split((8, 8, 1))
    model = build_model()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=32, verbose=0)
    _, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Keras float accuracy on the test split: {100 * test_accuracy:.2f} %")
    model.save(HERE / "digits_cnn.keras")
    model.save(HERE / "digits_cnn.h5")
    (HERE / "digits_cnn_int8.tflite").write_bytes(to_tflite(model, x_train))
    inputs = x_test[:EXPECTED_SAMPLES]
    np.savez(HERE / "expected.npz", inputs=inputs, outputs=model.predict(inputs, verbose=0))


if __name__ == "__main__":
    main()
