// Run a MicroPython script on MicroPython's 32-bit WebAssembly port, under node.
//
//   node run.mjs [--put HOST=DEVICE]... [--get DEVICE=HOST]... SCRIPT [ARG]...
//
// --put copies a host file or folder into the port's in-memory filesystem before the
// run (the firmware's .mpy files into /lib, frames and NMEA to feed in); --get copies
// a device folder back out after it (the segments, for the host's reader). The
// script runs as __main__ with sys.argv = [SCRIPT, ARG...] and /lib first on
// sys.path. Exit status 1 when it raised, with the traceback on stderr.
//
// A line "# wasm: next call" splits the script into parts run one after the other
// (same globals). The port's collector scans the C stack conservatively, so while one
// call runs, objects that only stale C stack words point at (a module just dropped
// from sys.modules) stay alive; they are collectable once the call has returned, as
// on a board once the function that dropped them has.
import fs from "node:fs";
import path from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const puts = [];
const gets = [];
const args = process.argv.slice(2);
while (args.length && args[0].startsWith("--")) {
  const opt = args.shift();
  const [a, b] = (args.shift() || "").split("=");
  if (opt === "--put") puts.push([a, b]);
  else if (opt === "--get") gets.push([a, b]);
  else {
    console.error(`run.mjs: unknown option ${opt}`);
    process.exit(2);
  }
}
if (!args.length) {
  console.error("usage: node run.mjs [--put HOST=DEVICE]... [--get DEVICE=HOST]... SCRIPT [ARG]...");
  process.exit(2);
}
const [script, ...scriptArgs] = args;

const mp = await loadMicroPython({
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
const FS = mp.FS;

function mkdirs(dir) {
  let cur = "";
  for (const part of dir.split("/").filter(Boolean)) {
    cur += "/" + part;
    if (!FS.analyzePath(cur).exists) FS.mkdir(cur);
  }
}

function put(host, dev) {
  if (fs.statSync(host).isDirectory()) {
    mkdirs(dev);
    for (const name of fs.readdirSync(host)) put(path.join(host, name), dev + "/" + name);
  } else {
    mkdirs(path.posix.dirname(dev));
    FS.writeFile(dev, fs.readFileSync(host));
  }
}

function get(dev, host) {
  if (FS.isDir(FS.stat(dev).mode)) {
    fs.mkdirSync(host, { recursive: true });
    for (const name of FS.readdir(dev)) {
      if (name !== "." && name !== "..") get(dev + "/" + name, path.join(host, name));
    }
  } else {
    fs.writeFileSync(host, FS.readFile(dev));
  }
}

for (const [host, dev] of puts) put(host, dev);
let status = 0;
try {
  mp.runPython(
    `import sys\nsys.argv.clear()\nsys.argv.extend(${JSON.stringify([script, ...scriptArgs])})\n` +
      `if "/lib" in sys.path:\n    sys.path.remove("/lib")\nsys.path.insert(0, "/lib")\n`,
  );
  for (const part of fs.readFileSync(script, "utf8").split(/^# wasm: next call$/m)) {
    mp.runPython(part);
  }
} catch (e) {
  process.stderr.write(`${script}: ${e.message}\n`);
  status = 1;
}
for (const [dev, host] of gets) {
  if (FS.analyzePath(dev).exists) get(dev, host);
}
process.exit(status);
