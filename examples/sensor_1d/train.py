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

from tensorflow import keras

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from datasets import SENSOR_CLASSES, SENSOR_STEPS, sensor_split  # noqa: E402
from keras_export import train_and_export  # noqa: E402

EPOCHS = 40


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


def main() -> None:
    train_and_export(build_model, sensor_split(), EPOCHS, HERE, "sensor_1d")


if __name__ == "__main__":
    main()
