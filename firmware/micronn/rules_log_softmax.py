"""The rule of LOG_SOFTMAX (family "log_softmax"), as the host's check (micronn.ops.log_softmax)
except the tables' values: a board checks their counts and ranges and relies on the block CRC
for the rest (docs/format.md, "What a reader checks")."""

from .model import size_of

MAX_DEPTH = 2047


def check(name, p, in_shapes, out_shape, counts):
    rows, depth, multiplier, left_shift, divisor, right_shift, diff_min = p
    if rows < 1 or not 1 <= depth <= MAX_DEPTH:
        return f"needs rows >= 1 and depth 1..{MAX_DEPTH}"
    if not size_of(in_shapes[0]) == rows * depth == size_of(out_shape):
        return "input, output and rows x depth disagree"
    if multiplier >> 30 != 1 or not 1 <= left_shift <= 31:
        return "input_multiplier must be in [2^30, 2^31) and input_left_shift in 1..31"
    if divisor >> 30 != 1 or not 0 <= right_shift <= 31:
        return "reverse_scaling_divisor must be in [2^30, 2^31), its shift in 0..31"
    if diff_min != -((31 << 26) >> left_shift):  # -CalculateInputRadius(5, left_shift)
        return f"diff_min {diff_min} does not match input_left_shift {left_shift}"
    for count in counts:
        if count != 256:
            return f"a table has {count} entries, not 256"
    return None
