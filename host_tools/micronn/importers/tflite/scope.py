"""Operators micronn will not run, found before any tensor is looked at, with the reason."""

from micronn.importers.tflite.context import describe

RECURRENT = (
    "keeps int16 state between time steps (TFLM's 16x8 recurrent kernels); micronn runs int8 "
    "operators only, so recurrent layers are out of scope: use a convolutional model over the "
    "sequence (Conv1D) instead"
)
OUT_OF_SCOPE = {
    "UNIDIRECTIONAL_SEQUENCE_LSTM": RECURRENT,
    "BIDIRECTIONAL_SEQUENCE_LSTM": RECURRENT,
    "LSTM": RECURRENT,
    "UNIDIRECTIONAL_SEQUENCE_RNN": RECURRENT,
    "BIDIRECTIONAL_SEQUENCE_RNN": RECURRENT,
    "RNN": RECURRENT,
    "SVDF": RECURRENT.replace("between time steps", "(its activation memory)"),
}
SIGNAL = (
    "is an op of TFLM's Signal library (the audio front end: window, FFT, filter bank); micronn "
    "runs the neural network only: compute the features before it (on the host, or on the "
    "board in your own code) and convert the model that takes them"
)
ETHOS_U = "is a model compiled by Vela for an Arm Ethos-U NPU; convert the .tflite from before Vela"
CUSTOM = "is a custom operator; micronn runs TFLite's builtin operators only"


def out_of_scope_reason(op_name: str) -> str | None:
    if op_name in OUT_OF_SCOPE:
        return OUT_OF_SCOPE[op_name]
    if op_name.startswith("CUSTOM:Signal"):
        return SIGNAL
    if op_name.lower().startswith("custom:ethos-u"):
        return ETHOS_U
    if op_name.startswith("CUSTOM:"):
        return CUSTOM
    return None


def check_in_scope(graph) -> None:
    """ValueError naming the first operator micronn does not run and why, and how many more."""
    found = [op for op in graph.operators if out_of_scope_reason(op.name) is not None]
    if not found:
        return
    first = found[0]
    others = {op.name for op in found[1:]} - {first.name}
    more = f" (also: {', '.join(sorted(others))})" if others else ""
    raise ValueError(
        f"{graph.name}: {describe(graph, first)} {out_of_scope_reason(first.name)}{more}"
    )
