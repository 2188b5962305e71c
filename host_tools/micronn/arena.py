"""Activation buffer planning: one int8 arena, tensors placed where their lifetimes allow."""


def lifetimes(model) -> list:
    """(first, last) layer index during which each tensor must hold its value.

    Every input is live from before layer 0 (-1); every output until after the last layer.
    """
    end = len(model.layers)
    spans = [None] * len(model.shapes)
    for tensor in model.input_tensors:
        spans[tensor] = (-1, -1)
    for index, layer in enumerate(model.layers):
        spans[layer.output] = (index, index)
        for tensor in layer.inputs:
            first, _ = spans[tensor] if spans[tensor] is not None else (index, index)
            spans[tensor] = (first, index)
    for tensor in model.output_tensors:
        first, _ = spans[tensor]
        spans[tensor] = (first, end)
    return spans


def overlaps(a_start, a_size, b_start, b_size) -> bool:
    return a_start < b_start + b_size and b_start < a_start + a_size


def plan_arena(model, bands=None) -> tuple:
    """Greedy first-fit, largest tensors first. Returns (offsets, arena_size), 4-byte aligned.
    bands: None, or the micronn.bands.Bands stage the device runs in bands of rows."""
    from micronn import bands as banding

    return plan_arena_sizes(banding.spans(model, bands), banding.slot_sizes(model, bands))


def plan_arena_sizes(spans, sizes) -> tuple:
    """plan_arena for tensors of these (first, last) spans and byte sizes."""
    order = sorted(range(len(sizes)), key=lambda t: (-sizes[t], t))
    offsets, placed = [0] * len(sizes), []
    for tensor in order:
        first, last = spans[tensor]
        busy = sorted(
            (offsets[other], sizes[other])
            for other in placed
            if spans[other][0] <= last and first <= spans[other][1]
        )
        offset = 0
        for start, size in busy:
            if overlaps(offset, sizes[tensor], start, size):
                offset = (start + size + 3) & ~3
        offsets[tensor] = offset
        placed.append(tensor)
    return offsets, arena_need(offsets, sizes)


def arena_need(offsets, sizes) -> int:
    """The arena plan_arena writes for this placement: the tensors' end, rounded up to 4."""
    end = max((offset + size for offset, size in zip(offsets, sizes, strict=True)), default=0)
    return (end + 3) & ~3


def check_arena(model, offsets, arena_size, bands=None) -> str | None:
    """A reason the placement is unsafe, or the arena larger than its tensors need, or None."""
    from micronn import bands as banding

    spans = banding.spans(model, bands)
    sizes = banding.slot_sizes(model, bands)
    for t, (offset, size) in enumerate(zip(offsets, sizes, strict=True)):
        if offset % 4 or offset + size > arena_size:
            return f"activation tensor {t} lies outside the arena"
        for u in range(t):
            live_together = spans[u][0] <= spans[t][1] and spans[t][0] <= spans[u][1]
            if live_together and overlaps(offset, size, offsets[u], sizes[u]):
                return f"activation tensors {u} and {t} share memory while both are live"
    need = arena_need(offsets, sizes)
    if arena_size > need:
        return (
            f"arena_size {arena_size} is larger than its tensors need ({need} bytes); "
            "the file is damaged, re-convert it"
        )
    return None
