"""The CLI verbs, one do_<verb> function each. They return the lines to print; they never print."""

from pathlib import Path

import numpy as np

from micronn import container, reference
from micronn.arrays import load_npy, load_npz
from micronn.boards import DEFAULT_BOARD, list_boards, load_board
from micronn.convert import convert_to_model
from micronn.labels import top_lines
from micronn.memory_plan import plan_container, planned_backends
from micronn.memory_report import backend_lines, describe_memory
from micronn.report import bands_lines, describe, edge_notes, format_table, labels_lines
from micronn.simulate import simulate


def _load_npy(path) -> np.ndarray:
    return load_npy(path)  # sizes checked against the file before anything is allocated


def _edge_names(edges, kind) -> list:
    return [f"{kind}{k}" for k in range(len(edges))]


def _load_inputs(path, model):
    """The inputs of `micronn simulate`: a .npy for a one-input model, or a .npz with one array
    per input named input0, input1, ... (a one-input model's .npz may also hold just one
    array, under any name)."""
    if not str(path).endswith(".npz"):
        if len(model.inputs) > 1:
            raise ValueError(
                f"{path}: the model has {len(model.inputs)} inputs; give an .npz with one array "
                f"per input named {', '.join(_edge_names(model.inputs, 'input'))}"
            )
        return _load_npy(path)
    arrays = load_npz(path)
    names = _edge_names(model.inputs, "input")
    if len(model.inputs) == 1 and len(arrays) == 1:
        return next(iter(arrays.values()))
    missing = [name for name in names if name not in arrays]
    extra = sorted(set(arrays) - set(names))
    if missing or extra:
        raise ValueError(
            f"{path}: the model's inputs are {', '.join(names)}; the archive holds "
            f"{', '.join(sorted(arrays)) or 'nothing'}: name one array per input so"
        )
    values = [arrays[name] for name in names]
    return values[0] if len(values) == 1 else values


def _save_outputs(path, model, outputs) -> str:
    """Write the outputs as .npy (one output) or .npz (output0, output1, ...); describe them."""
    _check_output_path(path, model)
    if len(model.outputs) == 1 and not str(path).endswith(".npz"):
        np.save(path, outputs)
        return f"{outputs.dtype} {outputs.shape}"
    outputs = (outputs,) if len(model.outputs) == 1 else outputs
    names = _edge_names(model.outputs, "output")
    np.savez(path, **dict(zip(names, outputs, strict=True)))
    return ", ".join(f"{n} {o.dtype} {o.shape}" for n, o in zip(names, outputs, strict=True))


def _check_output_folder(path) -> None:
    """OSError before any work when the folder of an output file is missing (writing there
    would fail with a "file not found" that sounds like the input's)."""
    folder = Path(path).parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise OSError(
            f"{path}: the output folder {folder} {what}; create it first or write elsewhere"
        )


def _check_output_path(path, model) -> None:
    _check_output_folder(path)
    if len(model.outputs) > 1 and not str(path).endswith(".npz"):
        raise ValueError(
            f"{path}: the model has {len(model.outputs)} outputs; write them to an .npz "
            "(--output Y.npz holds output0, output1, ...)"
        )


def _read_container(path):
    data = Path(path).read_bytes()
    return data, container.read(data, name=str(path))


def do_convert(args) -> list:
    _check_output_folder(args.output)
    model = convert_to_model(
        args.model,
        calibration=args.calibration,
        weights=args.weights,
        per_tensor=args.per_tensor,
        labels=args.labels,
        bands=None if args.no_bands else "auto",
    )
    data = container.write(model)
    Path(args.output).write_bytes(data)
    return [
        f"wrote {args.output}: {len(data)} bytes, {len(model.layers)} layers",
        *bands_lines(model),
        *edge_notes(model),
        *labels_lines(model),
    ]


def do_inspect(args) -> list:
    data, model = _read_container(args.model)
    board = load_board(args.board)
    plan = plan_container(data, board, backend=args.backend, runtime=args.runtime)
    memory = describe_memory(plan)
    plans = {
        backend: plan
        if backend == args.backend
        else plan_container(data, board, backend=backend, runtime=args.runtime)
        for backend in planned_backends()
    }
    return [
        f"{args.model}",
        *describe(model, len(data), board),
        *bands_lines(model),
        "",
        *memory,
        *_served(data, plan),
        "",
        *backend_lines(plans),
    ]


def _served(data, plan) -> list:
    """The needed heap of each placement when `micronn run` serves the model (fit.py)."""
    from micronn.fit import served

    lines = []
    for name, figures in served(data, plan).items():
        verdict = "fits" if figures.fits else "does NOT fit"
        lines.append(
            f"  micronn run (board agent): weights={name!r} needs {figures.needed} B, {verdict} "
            f"(agent: {figures.at_load} B while loading, {figures.serving} B beside the net)"
        )
    return lines


def do_simulate(args) -> list:
    data, model = _read_container(args.model)
    x = _load_inputs(args.input, model)
    if args.output:
        _check_output_path(args.output, model)  # before the VM runs
    result = simulate(
        data,
        x,
        board=args.board,
        backend=args.backend,
        micropython=args.micropython,
        weights=args.weights,
        precompiled=not args.source,
    )
    board = load_board(args.board)
    outputs = result.outputs
    if args.dequantize:
        if len(model.outputs) == 1:
            outputs = reference.dequantize_output(model, outputs)
        else:
            outputs = tuple(reference.dequantize_output(model, q, k) for k, q in enumerate(outputs))
    lines = [
        f"ran {args.model} on the MicroPython VM as {board.name} "
        f"(backend {result.backend}, weights {result.weights}); "
        f"peak heap {result.peak_heap} of {board.heap_bytes} bytes"
    ]
    if args.output:
        lines.append(f"wrote {args.output}: {_save_outputs(args.output, model, outputs)}")
    elif len(model.outputs) == 1:
        lines.append(np.array2string(outputs, threshold=200))
    else:
        for name, out in zip(_edge_names(model.outputs, "output"), outputs, strict=True):
            lines.append(f"{name}: {np.array2string(out, threshold=200)}")
    lines += _top_labels(model, result.outputs)
    if args.time:
        from micronn.bench import bench_table, bench_vm

        rows = bench_vm(
            data,
            args.board,
            weights=args.weights,
            micropython=args.micropython,
            precompiled=not args.source,
        )
        lines += [f"timed on the VM with the {board.name}'s heap (its own speed, not the board's):"]
        lines += bench_table(rows)
    return lines


def _top_labels(model, codes) -> list:
    """The most likely labels of each sample, for a model with labels."""
    if not model.labels:
        return []
    k = model.labels_output
    spec = model.outputs[k]
    codes = codes[k] if len(model.outputs) > 1 else codes
    return top_lines(model.labels, codes, spec.scale, spec.zero_point)


def do_boards(args) -> list:
    boards = [load_board(name) for name in list_boards()]
    header = ("board", "aliases", "heap B", "filesystem B", "mpy arch", "baud", "description")
    rows = [
        (
            board.name,
            ", ".join(board.aliases) or "-",
            str(board.heap_bytes),
            str(board.filesystem_bytes),
            board.mpy_arch,
            str(board.default_baud),
            board.description,
        )
        for board in boards
    ]
    return format_table(header, rows)


# -- verbs that talk to a board over serial (see docs/flashing.md) -------------------------


def default_port(args) -> None:
    """A verb with --port and none given: the one board connected (ValueError if there are
    none or several, listing them)."""
    if getattr(args, "port", "") is not None:
        return
    from micronn.ports import choose_port

    port = choose_port()
    args.port = [port] if args.verb == "flash" else port


def do_bench(args) -> list:
    from micronn.bench import bench_board, bench_table

    report, rows = _on_board(
        bench_board, args.port, args.model, weights=args.weights, baudrate=args.baud, name=args.name
    )
    return [f"timed {report.board_path} on {args.port} (the board's ticks_us)", *bench_table(rows)]


def do_export_runtime(args) -> list:
    from micronn.runtime_export import PACKAGE, export_runtime

    written = export_runtime(args.folder, board=args.board, source=args.source)
    modules = [path for path in written if path.parent.name == PACKAGE]
    compiled = sum(path.suffix == ".mpy" for path in modules)
    size = sum(path.stat().st_size for path in modules)
    where = Path(args.folder) / PACKAGE
    return [
        f"wrote {where}: {len(modules)} files ({compiled} .mpy), {size} B; and "
        f"{Path(args.folder) / 'manifest.py'}",
        f"copy it to the board's /lib: mpremote cp -r {where} :/lib/   (or freeze it with the "
        "manifest.py)",
    ]


def do_romfs(args) -> list:
    from micronn.runtime_export import ROMFS_MODELS, romfs_image

    models = {}
    for path in args.models:
        data = Path(path).read_bytes()
        container.read(data)  # a damaged or foreign file says so here, not on the board
        name = Path(path).stem
        if name in models:
            raise ValueError(f"two models are named {name}.mnq; rename one")
        models[name] = data
    board = load_board(args.board)
    backends = [name for name in args.backends.split(",") if name and name != "python"]
    image = romfs_image(board.name, models, backends)
    Path(args.image).write_bytes(image)
    kernels = ", ".join(["python", *backends])
    lines = [
        f"wrote {args.image}: {len(image)} B, the runtime for {board.name} ({kernels} kernels)"
    ]
    lines += [f"  /rom/{ROMFS_MODELS}/{name}.mnq" for name in models]
    lines += _partition_lines(board, len(image), backends)
    lines += [
        f"deploy it: mpremote romfs deploy {args.image}   (MicroPython 1.25 or later, a board "
        "with a ROMFS partition: docs/memory.md)",
        "on the board the runtime imports from /rom/lib (ahead of /lib); "
        "micronn.load('/rom/models/NAME.mnq') reads the weights in place (weights='rom')",
    ]
    return lines


def _partition_lines(board, size: int, backends) -> list:
    """What the board profile says about a ROMFS partition for an image of `size` bytes."""
    partition = board.romfs_bytes
    if partition is None:
        return []
    source = board.sources["romfs_bytes"].split(";")[0]
    if partition == 0:
        return [
            f"warning: {board.name}'s stock MicroPython firmware has no ROMFS partition "
            f"({source}); deploy to a firmware built with one"
        ]
    if size <= partition:
        return [f"  fits {board.name}'s ROMFS partition: {size} of {partition} B"]
    fewer = "leave out backends (--backends python), " if backends else ""
    return [
        f"warning: the image is {size} B, larger than {board.name}'s ROMFS partition of "
        f"{partition} B ({source}); {fewer}put fewer models in, or "
        "build the firmware with a bigger partition"
    ]


def do_docs(args) -> list:
    """The pages that travel with micronn (in the wheel too), or the text of one."""
    from micronn.resources import docs_dir

    folder = docs_dir()
    pages = sorted(p.relative_to(folder).with_suffix("").as_posix() for p in folder.rglob("*.md"))
    if args.page is None:
        return [f"micronn's documentation, in {folder} (micronn docs PAGE prints one):", *pages]
    name = args.page.removesuffix(".md")
    if name not in pages:
        raise ValueError(f"no page {args.page!r}; the pages are: {', '.join(pages)}")
    return (folder / f"{name}.md").read_text(encoding="utf-8").splitlines()


def do_devs(args) -> list:
    from micronn.ports import candidates

    found = candidates()
    if not found:
        return ["no MicroPython board found (connect one by USB, or run micronn virtual-board)"]
    return format_table(("port", "kind", "what"), [(c.port, c.kind, c.description) for c in found])


def _on_board(function, *args, **options):
    """function(*args, stop=..., **options) in a worker thread: Ctrl-C ends its board session
    between two frames instead of in the middle of one (interrupt.py)."""
    from micronn.interrupt import run_interruptibly

    return run_interruptibly([lambda stop: function(*args, stop=stop, **options)])[0]


def _size(count: int) -> str:
    """Bytes in readable units: 488 B, 12.3 KiB, 1.40 MiB."""
    if count < 1024:
        return f"{count} B"
    if count < 1 << 20:
        return f"{count / 1024:.1f} KiB"
    return f"{count / (1 << 20):.2f} MiB"


def _heap_check(data: bytes, model_name: str, profile: str):
    """flash's check(session): refuse a board whose reported heap the model cannot fit."""
    from micronn.fit import fit_problem, reported_board
    from micronn.runtime import ROM_STAMP_PATH, decode_mpy, installed_stamp, plan_runtime

    def check(session):
        info = session.info()
        if info.heap_total <= 0:
            return  # the board does not say; the profile check (--board) is all there is
        runtime = plan_runtime(decode_mpy(session.hello.mpy)).format
        if installed_stamp(session, ROM_STAMP_PATH):
            runtime = "romfs"  # the board imports its ROMFS image's runtime, ahead of lib/
        board = reported_board(profile, info.heap_total, f"this {info.machine or 'board'}")
        problem = fit_problem(data, board, runtime, name=model_name)
        if problem:
            raise ValueError(problem)

    return check


def do_flash(args, progress=None) -> list:
    from micronn.fit import fit_problem, placement_note
    from micronn.flash import flash_fleet, read_model

    data = read_model(args.model)
    lines = []
    check = None
    if not args.force:
        profile = args.board or DEFAULT_BOARD
        if args.board:
            problem = fit_problem(data, args.board, name=args.model)
            if problem:
                raise ValueError(problem)
            note = placement_note(data, args.board)
            if note:
                lines.append(note)
        check = _heap_check(data, args.model, profile)
    results = flash_fleet(
        args.port,
        args.model,
        name=args.name,
        baudrate=args.baud,
        progress=progress,
        force_runtime=args.force_runtime,
        check=check,
    )
    for result in results:
        report = result.report
        if report is None:
            lines.append(f"{result.port}: FAILED: {result.error}")
            continue
        runtime = report.runtime
        if runtime.installed:
            what = f"runtime installed ({runtime.files} files, {runtime.mpy_files} as .mpy)"
        else:
            what = "runtime up to date" + (
                " (in the board's ROMFS image)" if runtime.in_rom else ""
            )
        resumed = f", resumed at {report.resumed_from} B" if report.resumed_from else ""
        lines.append(
            f"{result.port}: ok: {report.board_path} {report.size} B in {report.seconds:.1f} s; "
            f"{what}; {report.bytes_written} B written to the port{resumed}"
            f"{f', {report.retries} frames resent' if report.retries else ''}"
        )
    failed = [result.port for result in results if result.report is None]
    if len(results) == 1 and failed:
        raise ValueError(results[0].error)
    if failed:
        raise ValueError(
            f"flash failed on {len(failed)} of {len(results)} boards:\n" + "\n".join(lines)
        )
    return lines


def do_run(args) -> list:
    from micronn.fit import auto_python_note
    from micronn.remote import run

    x = _load_npy(args.input)
    if args.output:
        _check_output_folder(args.output)  # before the board runs
    result = _on_board(
        run, args.port, x, model=args.model, backend=args.backend, baudrate=args.baud
    )
    placed = f", weights {result.model.weights}" if result.model.weights else ""
    lines = [f"ran {result.board_path} on {args.port} (backend {result.model.backend}{placed})"]
    if args.backend == "auto" and result.model.backend == "python":
        lines.append(auto_python_note())
    if args.output:
        np.save(args.output, result.outputs)
        lines.append(f"wrote {args.output}: {result.outputs.dtype} {result.outputs.shape}")
    else:
        lines.append(np.array2string(result.outputs, threshold=200))
    info = result.model
    if info.labels:
        lines += top_lines(info.labels, result.outputs, info.output_scale, info.output_zero_point)
    return lines


def do_info(args) -> list:
    from micronn.boards import board_for_machine
    from micronn.remote import describe as describe_board

    report = _on_board(describe_board, args.port, baudrate=args.baud)
    info = report.info
    models = (
        ", ".join(
            f"{m.name} ({_size(m.size)}{', ROMFS' if m.in_rom else ''})" for m in report.models
        )
        or "none"
    )
    profile = board_for_machine(info.machine)
    if profile:
        aliases = load_board(profile).aliases
        named = f"profile {profile}" + (f", --board {aliases[0]}" if aliases else "")
    else:
        named = "no board profile matches; see micronn boards"
    return [
        f"board:        {info.machine} ({info.platform}) on {args.port}; {named}",
        f"firmware:     {info.implementation} {info.version}",
        f"mpy:          {report.mpy_text}",
        f"heap:         {_size(info.heap_free)} free of {_size(info.heap_total)}",
        f"filesystem:   {_size(info.fs_free)} free of {_size(info.fs_total)}",
        f"micronn:      {info.runtime_stamp or 'not installed'}",
        *([f"ROMFS image:  {report.rom_runtime}"] if report.rom_runtime else []),
        f"backends:     {info.backends}",
        f"models:       {models}",
    ]


def do_ls(args) -> list:
    from micronn.remote import list_models

    models = _on_board(list_models, args.port, baudrate=args.baud)
    if not models:
        return ["no models on the board"]
    rows = [(m.name, str(m.size), "ROMFS" if m.in_rom else "filesystem") for m in models]
    return format_table(("model", "bytes", "in"), rows)


def do_rm(args) -> list:
    from micronn.remote import remove_model

    removed = [_on_board(remove_model, args.port, name, baudrate=args.baud) for name in args.names]
    return [f"removed {path}" for path in removed]


def do_virtual_board(args, announce) -> list:
    import time

    from micronn.virtual_board import Line, VirtualBoard

    board_vm = VirtualBoard(
        args.board,
        folder=args.folder,
        line=Line(args.baud),
        micropython=args.micropython,
        register=True,
    )
    with board_vm as board:
        speed = f"{args.baud} baud" if args.baud else "unthrottled"
        announce(
            [
                board.port,
                f"virtual {board.profile.name} board ({board.profile.heap_bytes} B heap, "
                f"{speed}); files in {board.folder}; Ctrl-C stops it",
            ]
        )
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return ["virtual board stopped"]
