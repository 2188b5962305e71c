"""Patch-based execution: a chain of window layers run in bands of output rows (docs/memory.md).

MCUNetV2 (Lin et al., 2021) runs the first, activation-heavy layers of an image network one
spatial patch at a time, so that only the stage's input, its output and one patch of each
layer in between are ever held. micronn's patches are bands of whole rows: a band of rows of an
HWC tensor is one run of bytes, so every backend's kernel runs on a band unchanged, with its
geometry (in_height, out_height, pad_top) cut to the band. The halo rows that neighbouring
bands share are computed again; the result is the same integers as running each layer whole.

A stage is `Bands(first, last, rows)`: layers first..last, each a window layer reading the one
before it, run for each band of `rows` output rows of layer `last` (the last band may be
shorter). The tensors between the layers hold one band's rows; the arena gives each the largest
band's bytes. The device twin is firmware/micronn/bands.py.
"""

from dataclasses import dataclass

from micronn.arena import lifetimes, plan_arena  # arena imports this module in its calls

WINDOW_OPS = {  # the params naming each window's height: kernel, stride, dilation
    "CONV_2D": ("kernel_height", "stride_height", "dilation_height"),
    "DEPTHWISE_CONV_2D": ("kernel_height", "stride_height", "dilation_height"),
    "MAX_POOL_2D": ("filter_height", "stride_height", None),
    "AVERAGE_POOL_2D": ("filter_height", "stride_height", None),
}
MAX_STAGE = 12  # layers in a stage the search tries
MAX_EXTRA_WORK = 0.15  # band_cost at most this share of the model's window work
MIN_SAVING = 2048  # bytes a stage must save to be chosen
# what one more step of the plan costs, in multiply-accumulates: fitted to the time bands took
# on the qemu board (docs/memory.md, "Bands": person_detect and VWW, python and viper)
STEP_WORK = 6000


@dataclass(frozen=True)
class Bands:
    first: int
    last: int
    rows: int  # output rows of layer `last` per band


def input_rows(params: dict, op: str, o0: int, o1: int) -> tuple:
    """(r0, r1, pad_top): the input rows output rows o0..o1-1 read, and the padding before
    row r0 of the band (docs/format.md, "Windows")."""
    kernel, stride, dilation = (params[n] if n else 1 for n in WINDOW_OPS[op])
    low = o0 * stride - params["pad_top"]
    high = (o1 - 1) * stride - params["pad_top"] + (kernel - 1) * dilation + 1
    r0, r1 = max(0, low), min(params["in_height"], high)
    return r0, r1, r0 - low


def band_rows(model, bands: Bands) -> list:
    """Per band, the (o0, o1) output rows of each stage layer, first to last."""
    layers = model.layers[bands.first : bands.last + 1]
    height = layers[-1].params["out_height"]
    schedule = []
    for start in range(0, height, bands.rows):
        rows = [(start, min(start + bands.rows, height))]
        for layer in reversed(layers[1:]):
            r0, r1, _ = input_rows(layer.params, layer.op, *rows[0])
            rows.insert(0, (r0, r1))
        schedule.append(rows)
    return schedule


def band_params(layer, o0: int, o1: int) -> dict:
    """The layer's params for its output rows o0..o1-1, reading its input's rows from the
    first that they need (the device's bands.band_params)."""
    r0, r1, pad_top = input_rows(layer.params, layer.op, o0, o1)
    return {**layer.params, "in_height": r1 - r0, "out_height": o1 - o0, "pad_top": pad_top}


def geometries(model, bands) -> list:
    """Per stage layer, the distinct params of its bands, in the order the device prepares them
    (one plan each)."""
    layers = model.layers[bands.first : bands.last + 1]
    result = [[] for _ in layers]
    for rows in band_rows(model, bands):
        for k, (layer, (o0, o1)) in enumerate(zip(layers, rows, strict=True)):
            params = band_params(layer, o0, o1)
            if params not in result[k]:
                result[k].append(params)
    return result


def step_bytes(model, bands, word_bits: int = 32) -> int:
    """The net's objects for the bands beyond one step per layer: a step (a 5-tuple, two GC
    blocks) per layer and band, a view of the stage's input and of its output per band, and a
    view of each inner tensor per band size (memoryviews: one block each)."""
    block = word_bits // 2
    schedule = band_rows(model, bands)
    count = bands.last - bands.first + 1
    inner = {(k, o1 - o0) for rows in schedule for k, (o0, o1) in enumerate(rows[:-1])}
    return block * (2 * count * (len(schedule) - 1) + 2 * len(schedule) + len(inner))


def slot_sizes(model, bands) -> list:
    """Each activation tensor's bytes in the arena: a tensor inside the stage holds one band."""
    sizes = list(model.activation_sizes)
    if bands is None:
        return sizes
    schedule = band_rows(model, bands)
    for k in range(bands.last - bands.first):
        tensor = model.layers[bands.first + k].output
        row_bytes = sizes[tensor] // model.shapes[tensor][0]
        sizes[tensor] = row_bytes * max(rows[k][1] - rows[k][0] for rows in schedule)
    return sizes


def spans(model, bands) -> list:
    """lifetimes, with every tensor of the stage live across the whole stage."""
    result = lifetimes(model)
    if bands is None:
        return result
    first, last = bands.first, bands.last
    stage = [model.layers[first].inputs[0]] + [
        model.layers[i].output for i in range(first, last + 1)
    ]
    for tensor in stage:
        start, end = result[tensor]
        result[tensor] = (min(start, first), max(end, last))
    return result


def chain_problem(model, first: int, last: int) -> str | None:
    """Why layers first..last cannot be a stage, or None."""
    layers, outputs = model.layers, set(model.output_tensors)
    if not 0 <= first < last < len(layers):
        return "the stage's layers are outside the model"
    for index in range(first, last + 1):
        if layers[index].op not in WINDOW_OPS:
            return f"layer {index} ({layers[index].op}) is not a window layer"
        if index > first:
            inner = layers[index - 1].output
            readers = [i for i, layer in enumerate(layers) if inner in layer.inputs]
            if tuple(layers[index].inputs) != (inner,) or readers != [index] or inner in outputs:
                return f"layer {index} is not the only reader of layer {index - 1}'s output"
    return None


def problem(model, bands) -> str | None:
    """Why `bands` cannot run on `model`, or None."""
    chain = chain_problem(model, bands.first, bands.last)
    if chain is not None:
        return chain
    if not 1 <= bands.rows < model.layers[bands.last].params["out_height"]:
        return f"{bands.rows} rows per band is not fewer than the stage's output rows"
    head = model.layers[bands.first]
    reads = [input_rows(head.params, head.op, *rows[0])[:2] for rows in band_rows(model, bands)]
    if any(o1 <= o0 for rows in band_rows(model, bands) for o0, o1 in rows + reads):
        return "a band reads no rows of a layer's input (its windows lie in the padding)"
    return None


def work(layer) -> int:
    """Multiply-accumulates (or window taps) per output row."""
    p = layer.params
    taps = p.get("kernel_height", p.get("filter_height")) * p.get(
        "kernel_width", p.get("filter_width")
    )
    if layer.op == "CONV_2D":
        taps *= p["in_channels"]
    return taps * p["out_width"] * p.get("out_channels", p.get("channels"))


def extra_work(model, bands) -> int:
    """The multiply-accumulates the bands compute again (halo rows)."""
    layers = model.layers[bands.first : bands.last + 1]
    computed = [0] * len(layers)
    for rows in band_rows(model, bands):
        for k, (o0, o1) in enumerate(rows):
            computed[k] += o1 - o0
    return sum(
        (done - layer.params["out_height"]) * work(layer)
        for done, layer in zip(computed, layers, strict=True)
    )


def band_cost(model, bands) -> int:
    """The bands' work beyond running the stage whole, in multiply-accumulates: the halo rows
    computed again and STEP_WORK for each step more than one per layer."""
    layers = bands.last - bands.first + 1
    steps = len(band_rows(model, bands)) * layers
    return extra_work(model, bands) + STEP_WORK * (steps - layers)


def choose(model):
    """The stage and band height that shrink the arena and the bands' steps (step_bytes, on a
    32-bit board) most, their cost (band_cost) within MAX_EXTRA_WORK of the model's window work;
    None when no stage saves MIN_SAVING bytes. Taller bands compute fewer halo rows and make
    fewer steps, but hold more."""
    windows = [layer for layer in model.layers if layer.op in WINDOW_OPS]
    budget = MAX_EXTRA_WORK * sum(work(layer) * layer.params["out_height"] for layer in windows)
    best, best_key = None, (plan_arena(model, None)[1] - MIN_SAVING, 0)
    for first in range(len(model.layers)):
        for last in range(first + 1, min(first + MAX_STAGE, len(model.layers))):
            if chain_problem(model, first, last) is not None:
                break
            for rows in range(1, model.layers[last].params["out_height"]):
                bands = Bands(first, last, rows)
                extra = band_cost(model, bands)
                if extra > budget:
                    continue
                key = (plan_arena(model, bands)[1] + step_bytes(model, bands), extra)
                if key < best_key:
                    best, best_key = bands, key
    return best
