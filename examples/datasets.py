"""The digits data set as every example splits it. Needs only numpy and scikit-learn."""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 0
TEST_FRACTION = 0.25


def digits_split(shape=(64,)):
    """scikit-learn's 8x8 digits scaled to [0, 1], split 75/25 (stratified, seed 0).

    Returns x_train, x_test, y_train, y_test with x shaped (n, *shape), float32.
    """
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32).reshape(-1, *shape)
    return train_test_split(
        x, digits.target, test_size=TEST_FRACTION, random_state=SEED, stratify=digits.target
    )


SENSOR_STEPS = 64
SENSOR_RATE_HZ = 25.0
SENSOR_CLASSES = ("idle", "walking", "running", "jumping")


def _sensor_window(rng, label: int) -> np.ndarray:
    """One (steps, 3) window of a synthetic 3-axis accelerometer, in g, gravity on z."""
    t = np.arange(SENSOR_STEPS) / SENSOR_RATE_HZ
    x = rng.normal(0, 0.08, (SENSOR_STEPS, 3))
    x[:, 2] += 1.0
    phase = rng.uniform(0, 2 * np.pi)
    if label in (1, 2):
        freq = rng.uniform(1.4, 2.6) if label == 1 else rng.uniform(2.3, 3.6)
        amplitude = rng.uniform(0.2, 0.6) if label == 1 else rng.uniform(0.5, 1.3)
        wave = np.sin(2 * np.pi * freq * t + phase)
        x[:, 0] += amplitude * 0.6 * wave
        x[:, 2] += amplitude * (wave + 0.3 * np.sin(4 * np.pi * freq * t + 2 * phase))
    if label == 3:
        for start in rng.choice(SENSOR_STEPS - 6, size=rng.integers(1, 4), replace=False):
            x[start : start + 5, 2] += rng.uniform(1.0, 2.5) * np.hanning(5)
            x[start : start + 5, 1] += rng.normal(0, 0.4)
    return x


def sensor_split(train: int = 2000, test: int = 600, seed: int = 7):
    """Synthetic accelerometer windows (n, 64, 3) with labels 0..3 (SENSOR_CLASSES)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(SENSOR_CLASSES), train + test)
    x = np.stack([_sensor_window(rng, int(label)) for label in labels]).astype(np.float32)
    return x[:train], x[train:], labels[:train], labels[train:]
