"""scikit-learn MLPs straight from the fitted estimator."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier, MLPRegressor

import micronn
from micronn import container, reference
from micronn.importers.sklearn import graph_from_sklearn

RNG = np.random.default_rng(2)
X = RNG.normal(size=(120, 6)).astype(np.float32)


def _fit(estimator, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


@pytest.mark.parametrize(
    ("estimator", "y", "method"),
    [
        (
            MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0),
            RNG.integers(0, 3, 120),
            "predict_proba",
        ),
        (
            MLPClassifier(
                hidden_layer_sizes=(5, 4), activation="tanh", max_iter=50, random_state=0
            ),
            RNG.integers(0, 2, 120),
            "predict_proba",
        ),
        (
            MLPRegressor(
                hidden_layer_sizes=(7,), activation="logistic", max_iter=50, random_state=0
            ),
            RNG.normal(size=(120, 2)),
            "predict",
        ),
    ],
)
def test_float_graph_matches_the_estimator(estimator, y, method):
    estimator = _fit(estimator, y)
    expected = getattr(estimator, method)(X)
    got = graph_from_sklearn(estimator).predict(X)
    if method == "predict_proba" and expected.shape[1] == 2:
        expected = expected[:, 1:]  # a binary classifier has one logistic output
    np.testing.assert_allclose(got, expected.reshape(got.shape), rtol=1e-4, atol=1e-5)


def test_convert_sklearn_tracks_predict_proba(tmp_path):
    mlp = _fit(
        MLPClassifier(hidden_layer_sizes=(16,), max_iter=200, random_state=0),
        RNG.integers(0, 4, 120),
    )
    data = micronn.convert_sklearn(mlp, X, output=tmp_path / "mlp.mnq")
    assert (tmp_path / "mlp.mnq").read_bytes() == data
    model = container.read(data)
    assert [layer.op for layer in model.layers] == ["FULLY_CONNECTED"] * 2 + ["SOFTMAX"]
    assert (model.output.scale, model.output.zero_point) == (1 / 256, -128)
    got = reference.dequantize_output(
        model, reference.run(model, reference.quantize_input(model, X))
    )
    assert np.abs(got - mlp.predict_proba(X)).max() < 0.05


def test_other_estimators_and_unfitted_ones_are_refused():
    with pytest.raises(ValueError, match="MLPClassifier and MLPRegressor"):
        graph_from_sklearn(LogisticRegression())
    with pytest.raises(ValueError, match="not fitted"):
        graph_from_sklearn(MLPClassifier())
    mlp = _fit(
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0), RNG.integers(0, 3, 120)
    )
    with pytest.raises(ValueError, match="calibration"):
        micronn.convert_sklearn(mlp, None)
