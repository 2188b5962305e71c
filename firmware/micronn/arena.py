"""The host-planned activation arena, checked: tensors share bytes only when never live together.

A tensor lives from the layer that writes it (an input: from before layer 0) to the last layer
that reads it (an output: to after the last layer), both ends included (docs/format.md).
"""


def lifetimes(layers, tensor_count, edges, n_in):
    """Per tensor, the first and last layer index during which it holds its value; None when
    two edges name one tensor (an output that is an input included). edges: the n_in inputs,
    then the outputs."""
    first = [0] * tensor_count
    last = [0] * tensor_count
    for k in range(n_in):
        tensor = edges[k].tensor
        if first[tensor]:
            return None
        first[tensor] = last[tensor] = -1
    end = len(layers)
    for index in range(end):
        layer = layers[index]
        first[layer.output] = last[layer.output] = index
        for tensor in layer.inputs:
            last[tensor] = index
    for k in range(n_in, len(edges)):
        tensor = edges[k].tensor
        if first[tensor] < 0 or last[tensor] == end:
            return None
        last[tensor] = end
    return first, last


def problem(model):
    """What is unsafe about the placement (or an arena larger than the tensors' end rounded up
    to 4 bytes, which the writer writes), or None. O(tensors^2), load time only."""
    offsets, sizes, arena_size = model.offsets, model.sizes, model.arena_size
    spans = lifetimes(model.layers, len(sizes), model.edges, model.n_in)
    if spans is None:
        return "two of the model's inputs and outputs name the same tensor"
    first, last = spans
    if model.bands is not None:
        from . import bands

        sizes = bands.slot_sizes(model)
        bands.widen(model, first, last)
    need = 0
    for t in range(len(sizes)):
        start, end = offsets[t], offsets[t] + sizes[t]
        if start % 4 or end > arena_size:
            return f"activation tensor {t} lies outside the {arena_size}-byte arena"
        for u in range(t):
            live_together = first[u] <= last[t] and first[t] <= last[u]
            if live_together and start < offsets[u] + sizes[u] and offsets[u] < end:
                return f"activation tensors {u} and {t} share arena bytes while both are live"
        if end > need:
            need = end
    need = (need + 3) & ~3  # the writer's arena: the tensors' end, rounded up to 4 bytes
    if arena_size > need:  # else a hostile header turns into a MemoryError at load
        return (
            f"arena_size {arena_size} is larger than its tensors need ({need} bytes), "
            "the file is damaged"
        )
    return None
