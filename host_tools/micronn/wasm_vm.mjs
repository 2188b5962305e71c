// Run a MicroPython script on the webassembly port (a 32-bit VM) under node, as the unix port
// would run `micropython -X heapsize=N SCRIPT ARGS...` with MICROPYPATH set. Started by
// micronn.wasm_vm with one argument, a JSON object:
//   {"vm": folder of micropython.mjs, "heap": bytes, "ulab": bool, "cwd": folder,
//    "path": [folders for sys.path], "script": file, "argv": [arguments], "romfs": null or the
//    file of a ROMFS image}
// An image is given to the port as a board's firmware has it: outside the GC heap (so that no
// word of it is ever scanned as a pointer), mounted at /rom with /rom and /rom/lib on sys.path
// ahead of the path folders.
// The port's file system is in memory: cwd, the path folders and the script's folder are copied
// into it at their own absolute paths, and after the run every file of cwd that the script
// wrote is copied back. Stdout and stderr go to node's; the exit status is the script's
// (sys.exit(N), 1 for an uncaught exception, whose traceback goes to stderr).
// The port formats an uncaught exception on the heap: one raised while micropython.heap_lock()
// is in force never returns (unlock in a `finally`; micronn.wasm_vm's timeout ends it).
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const spec = JSON.parse(process.argv[2]);
const { loadMicroPython } = await import(pathToFileURL(path.join(spec.vm, "micropython.mjs")));
const lines = (stream) => (line) => stream.write(line + "\n");
const mp = await loadMicroPython({
  heapsize: spec.heap,
  url: spec.ulab ? path.join(spec.vm, "micropython-ulab.wasm") : undefined,
  stdout: lines(process.stdout),
  stderr: lines(process.stderr),
  linebuffer: true,
  romfs: spec.romfs ? fs.readFileSync(spec.romfs) : undefined,
});
const FS = mp.FS;

function copyIn(folder) {
  FS.mkdirTree(folder);
  for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
    const host = path.join(folder, entry.name);
    try {
      if (entry.isDirectory()) copyIn(host);
      else if (entry.isFile()) FS.writeFile(host, fs.readFileSync(host));
    } catch (error) {
      if (error.code !== "ENOENT" && error.code !== "EACCES") throw error; // gone, or not ours
    }
  }
}

function copyOut(folder) {
  for (const name of FS.readdir(folder)) {
    if (name === "." || name === "..") continue;
    const inside = path.join(folder, name);
    if (FS.isDir(FS.stat(inside).mode)) {
      fs.mkdirSync(inside, { recursive: true });
      copyOut(inside);
      continue;
    }
    const data = FS.readFile(inside);
    if (!fs.existsSync(inside) || !Buffer.from(data).equals(fs.readFileSync(inside))) {
      fs.writeFileSync(inside, data);
    }
  }
}

const cwd = path.resolve(spec.cwd);
const script = path.resolve(spec.script);
for (const folder of new Set([cwd, path.dirname(script), ...spec.path.map((p) => path.resolve(p))])) {
  copyIn(folder);
}
// sys.path as the unix port makes it: the script's folder, then MICROPYPATH; a board's image first
const rom = spec.romfs ? ["/rom", "/rom/lib"] : [];
const sysPath = [path.dirname(script), ...rom, ...spec.path.map((p) => path.resolve(p))];
mp.runPython(
  [
    "import sys, os",
    `sys.path[:] = ${JSON.stringify(sysPath)}`,
    `sys.argv[:] = ${JSON.stringify([script, ...spec.argv])}`,
    `os.chdir(${JSON.stringify(cwd)})`,
    `__file__ = ${JSON.stringify(script)}`,
    "del sys, os",
  ].join("\n"),
);

// The port's gc.collect() only asks for a collection, which it makes once control is back in
// JS (nothing is then on the C stack). A script that needs the live heap mid-way leaves the
// `send` of a generator in the global TOP_LEVEL_STEP (the generator yields after each
// gc.collect() and reads gc.mem_alloc() once resumed); it is called from here, one top-level
// call per step, until it raises StopIteration.
let status = 0;
try {
  mp.runPython(fs.readFileSync(script, "utf8"));
  const resume = mp.globals.get("TOP_LEVEL_STEP");
  if (resume !== undefined && resume !== null) {
    mp.globals.delete("TOP_LEVEL_STEP");
    for (;;) {
      try {
        resume(null);
      } catch (error) {
        if (error.name === "PythonError" && error.type === "StopIteration") break;
        throw error;
      }
    }
  }
} catch (error) {
  if (error.name !== "PythonError") throw error;
  if (error.type === "SystemExit") {
    const code = /SystemExit: (-?\d+)\s*$/.exec(error.message);
    status = code ? Number(code[1]) : /SystemExit\s*$/.test(error.message) ? 0 : 1;
  } else {
    process.stderr.write(error.message);
    status = 1;
  }
}
for (const [stream, buffer] of [
  [process.stdout, mp._module._stdoutBuffer],
  [process.stderr, mp._module._stderrBuffer],
]) {
  if (buffer && buffer.length) stream.write(Buffer.from(buffer));
}
copyOut(cwd);
process.exitCode = status;
