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

from tensorflow import keras

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from datasets import digits_split  # noqa: E402
from keras_export import train_and_export  # noqa: E402

EPOCHS = 60


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


def main() -> None:
    train_and_export(build_model, digits_split((8, 8, 1)), EPOCHS, HERE, "digits_cnn", h5=True)


if __name__ == "__main__":
    main()
