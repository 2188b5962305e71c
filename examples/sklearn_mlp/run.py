"""scikit-learn MLPClassifier on digits -> micronn, straight from the fitted estimator
(micronn.convert_sklearn). Prints accuracy float vs int8 vs int4 and runs the int8 model on
the MicroPython VM.

    python examples/sklearn_mlp/run.py [--vm-samples 100]
"""

import sys
import warnings
from pathlib import Path

from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from common import (  # noqa: E402
    BUILD,
    accuracies,
    quantized_accuracies,
    report,
    saved_split,
    vm_samples_argument,
)
from datasets import SEED, digits_split  # noqa: E402

import micronn  # noqa: E402
from micronn.importers.sklearn import graph_from_sklearn  # noqa: E402

HIDDEN = (64, 32)


def train(x, y) -> MLPClassifier:
    mlp = MLPClassifier(hidden_layer_sizes=HIDDEN, max_iter=600, random_state=SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return mlp.fit(x, y)


def main() -> int:
    vm_samples = vm_samples_argument(__doc__)
    x_train, x_test, y_train, y_test = saved_split("sklearn_mlp", digits_split())
    mlp = train(x_train, y_train)
    float_accuracy = 100 * mlp.score(x_test, y_test)
    ptq = quantized_accuracies(graph_from_sklearn(mlp), x_train, x_test, y_test)
    out = BUILD / "sklearn_mlp" / "digits_mlp.mnq"
    micronn.convert_sklearn(mlp, x_train, output=out)
    rows = [("MLPClassifier, micronn.convert_sklearn", {"float": float_accuracy} | accuracies(ptq))]
    heading = f"scikit-learn MLP {HIDDEN}, {len(y_test)} test digits: accuracy (wrote {out})"
    report(heading, rows, ptq["int8"][1], x_test, vm_samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
