"""scikit-learn multi-layer perceptrons, taken from the fitted estimator object.

There is deliberately no file importer: a pickle or joblib file runs arbitrary code when
loaded, so load it yourself (only if you trust it) and pass the estimator to convert_sklearn.
"""

from micronn.graph import FloatGraph
from micronn.graph_builder import GraphBuilder

HIDDEN_ACTIVATIONS = {"identity": None, "relu": "relu", "logistic": "logistic", "tanh": "tanh"}
OUTPUT_ACTIVATIONS = {"identity": None, "softmax": "softmax", "logistic": "logistic"}


def graph_from_sklearn(estimator) -> FloatGraph:
    """The float graph of a fitted MLPClassifier / MLPRegressor, output activation included."""
    kind = type(estimator).__name__
    coefs = getattr(estimator, "coefs_", None)
    if kind not in ("MLPClassifier", "MLPRegressor"):
        raise ValueError(
            f"cannot convert a scikit-learn {kind}; micronn converts MLPClassifier and MLPRegressor"
        )
    if coefs is None:
        raise ValueError(f"the {kind} is not fitted yet; call fit() first")
    hidden = HIDDEN_ACTIVATIONS.get(estimator.activation, "?")
    final = OUTPUT_ACTIVATIONS.get(estimator.out_activation_, "?")
    if "?" in (hidden, final):
        raise ValueError(
            f"{kind}: activation {estimator.activation!r} / output {estimator.out_activation_!r}"
            " is not supported"
        )
    builder = GraphBuilder((coefs[0].shape[0],))
    tensor = builder.input
    last = len(coefs) - 1
    for index, (weight, bias) in enumerate(zip(coefs, estimator.intercepts_, strict=True)):
        name = f"layer{index}"
        tensor = builder.dense(tensor, weight.T, bias, name=name)
        activation = final if index == last else hidden
        if activation == "relu":
            tensor = builder.activation(tensor, "relu", name)
        elif activation is not None:
            tensor = builder.unary(activation, tensor, name)
    return builder.build(tensor)
