"""A stage of window layers run in bands of output rows (the host's micronn.bands): its check,
the rows each band computes, and the arena bytes its tensors take. Load time only.

model.bands is (first, last, rows): layers first..last, each reading the one before, run for
each band of `rows` output rows of layer `last`; a tensor inside the stage holds one band.
"""

from array import array

# params index of each window's kernel height, stride height, dilation height (-1: 1), pad_top
WINDOW = {
    "CONV_2D": (6, 8, 10, 12),
    "DEPTHWISE_CONV_2D": (6, 8, 10, 12),
    "MAX_POOL_2D": (5, 7, -1, 9),
    "AVERAGE_POOL_2D": (5, 7, -1, 9),
}
IN_HEIGHT = 0
OUT_HEIGHT = 3


def stage(model, heights):
    """(bands, problem): the stage the records' band heights mark, checked, or None."""
    layers = model.layers
    first = last = -1
    for index in range(len(heights)):
        if heights[index]:
            if first < 0:
                first = index
            elif last != index - 1 or heights[index] != heights[first]:
                return None, "the banded layers are not one run of one band height"
            last = index
    if last <= first:
        return None, "the banded stage needs two or more layers"
    rows = heights[first]
    outputs = [model.edges[k].tensor for k in range(model.n_in, len(model.edges))]
    for index in range(first, last + 1):
        layer = layers[index]
        if layer.name not in WINDOW:
            return None, f"banded layer {index} ({layer.name}) is not a window layer"
        if index > first:
            inner = layers[index - 1].output
            if layer.inputs != (inner,) or inner in outputs or _readers(layers, inner) != 1:
                return None, f"banded layer {index} is not the only reader of the one before"
    if rows >= layers[last].params[OUT_HEIGHT]:
        return None, f"{rows} rows a band is not fewer than the stage's output rows"
    model.bands = (first, last, rows)
    head = layers[first]
    for ranges in schedule(model):
        ranges.append(input_rows(head.name, head.params, ranges[0][0], ranges[0][1])[:2])
        for o0, o1 in ranges:
            if o1 <= o0:
                model.bands = None
                return None, "a band reads no rows of a layer's input (windows in the padding)"
    return model.bands, None


def _readers(layers, tensor):
    count = 0
    for layer in layers:
        if tensor in layer.inputs:
            count += 1
    return count


def input_rows(name, params, o0, o1):
    """(r0, r1, pad_top): the input rows that output rows o0..o1-1 read, and the padding
    before row r0."""
    k, s, d, p = WINDOW[name]
    dilation = params[d] if d >= 0 else 1
    low = o0 * params[s] - params[p]
    high = (o1 - 1) * params[s] - params[p] + (params[k] - 1) * dilation + 1
    r0 = low if low > 0 else 0
    r1 = high if high < params[IN_HEIGHT] else params[IN_HEIGHT]
    return r0, r1, r0 - low


def band_params(name, params, o0, o1):
    """The layer's params for output rows o0..o1-1 of an input band that starts at its row r0:
    (r0, r1, params)."""
    r0, r1, pad = input_rows(name, params, o0, o1)
    cut = list(params)
    cut[IN_HEIGHT] = r1 - r0
    cut[OUT_HEIGHT] = o1 - o0
    cut[WINDOW[name][3]] = pad
    return r0, r1, tuple(cut)


def schedule(model):
    """Per band, the (o0, o1) output rows of each stage layer, first to last."""
    first, last, rows = model.bands
    layers = model.layers
    height = layers[last].params[OUT_HEIGHT]
    result = []
    for start in range(0, height, rows):
        ranges = [(start, start + rows if start + rows < height else height)]
        for index in range(last, first, -1):
            layer = layers[index]
            r0, r1, _ = input_rows(layer.name, layer.params, ranges[0][0], ranges[0][1])
            ranges.insert(0, (r0, r1))
        result.append(ranges)
    return result


def slot_sizes(model):
    """Each activation tensor's bytes in the arena: inside the stage, its largest band."""
    sizes = list(model.sizes)
    if model.bands is None:
        return sizes
    first, last = model.bands[0], model.bands[1]
    bands = schedule(model)
    for k in range(last - first):
        tensor = model.layers[first + k].output
        most = 0
        for ranges in bands:
            if ranges[k][1] - ranges[k][0] > most:
                most = ranges[k][1] - ranges[k][0]
        sizes[tensor] = sizes[tensor] // model.shapes[tensor][0] * most
    return sizes


def widen(model, first_of, last_of):
    """Make every tensor of the stage live across the whole stage (lists by tensor)."""
    first, last = model.bands[0], model.bands[1]
    layers = model.layers
    tensors = [layers[first].inputs[0]]
    for index in range(first, last + 1):
        tensors.append(layers[index].output)
    for tensor in tensors:
        if first_of[tensor] > first:
            first_of[tensor] = first
        if last_of[tensor] < last:
            last_of[tensor] = last


def _fresh(tensor):
    """A copy of a per-channel array for another prepare; a view on ROMFS is only read."""
    return tensor[:] if type(tensor) in (array, bytearray) else tensor


def band_steps(plan, model, kernels, views, placement):
    """The steps of the banded stage (bands.py): for each band, each of its layers on the rows
    the band needs, with a plan per distinct band geometry (top, middle and bottom bands). A
    kernel's prepare may rewrite a layer's per-channel arrays (python's requantization limbs),
    so every geometry but the first prepares from fresh copies of them."""
    first, last, _ = model.bands
    layers = model.layers
    count = last - first + 1
    prepared = [{} for _ in range(count)]
    pristine = [[_fresh(t) for t in layers[first + k].tensors[1:]] for k in range(count)]
    inner = {}  # (tensor, bytes) -> its first bytes: one view for every band of that size
    out = None
    for ranges in schedule(model):
        for k in range(count):
            index = first + k
            layer = layers[index]
            o0, o1 = ranges[k]
            r0, r1, params = band_params(layer.name, layer.params, o0, o1)
            step = prepared[k].get(params)
            if step is None:
                tensors = layer.tensors
                if prepared[k]:
                    tensors = tensors[:1] + [_fresh(t) for t in pristine[k]]
                step = kernels[index].prepare(layer, params, tensors)
                run = kernels[index].run
                if placement is not None:
                    run, step = placement.step(index, layer, kernels[index], step)
                step = prepared[k][params] = (run, step)
            source, target = layer.inputs[0], layer.output
            if k == 0:
                row = model.sizes[source] // model.shapes[source][0]
                a = views[source][r0 * row : r1 * row]
            else:
                a = out  # the band the layer before wrote
            row = model.sizes[target] // model.shapes[target][0]
            if k == count - 1:
                out = views[target][o0 * row : o1 * row]
            else:
                out = _band_view(inner, views, target, (o1 - o0) * row)
            plan.append((step[0], step[1], a, None, out))
    if placement is not None:
        for index in range(first, last + 1):
            layers[index] = None


def _band_view(made, views, tensor, nbytes):
    band = made.get((tensor, nbytes))
    if band is None:
        band = made[(tensor, nbytes)] = views[tensor][:nbytes]
    return band
