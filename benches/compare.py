#!/usr/bin/env python3
"""Time depclose against ldd, libtree and lddtree-rs on the same file list, side by side.

    benches/compare.py [--rounds N] [--batch-rounds N] [--limit N] [--symbols-only]

The file list is every ELF file under /usr/bin, /usr/sbin, /usr/lib and /usr/libexec that the
host's ld.so accepts (`ld.so --verify` exits 0 or 2), so that every tool is asked about files
it can answer for. For each tool it runs, in one go:

  - one process per file (the way `ldd` is used in loops), total wall time; depclose is
    the statically linked build (see build_static), the default dynamic build is shown too,
    both timed as installed copies (see installed);
  - batch mode where the tool has one (all files as arguments of one process);

and repeats each measurement (--rounds times one process per file, --batch-rounds times the
batch runs, interleaved; one process per file in a shuffled order of the tools for each
file), printing the median and the ratio to depclose.
First it times the symbol check: the batch with `-r` against the plain batch, and `ldd -r`
(one loader run per file) on the same files. It also prints depclose's peak memory in batch mode and the batch time for growing prefixes of
the list (the scaling curve). Installs libtree (apt) and lddtree-rs (cargo install) if missing.
"""

import argparse
import os
import random
import shutil
import statistics
import tempfile
import subprocess
import sys
import time

LDSO = "/lib64/ld-linux-x86-64.so.2"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI_DYNAMIC = os.path.join(ROOT, "target", "release", "depclose-cli")
STATIC_DIR = os.path.join(ROOT, "target", "static")
INSTALL_DIR = os.path.join(ROOT, "target", "bench-bin")


def host_triple():
    out = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    return next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("host: "))


def build_static():
    """depclose-cli linked statically (glibc's static libc, `+crt-static`): no dynamic
    loading at start, which is most of the cost of a one-file run. Not position-independent
    (`relocation-model=static`): the start-up then relocates nothing (46 K instructions and 12
    page faults less per run). `--target` keeps the flags away from build scripts and proc
    macros."""
    triple = host_triple()
    env = dict(os.environ, RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static")
    r = subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--features", "cli", "--target", triple, "--target-dir", STATIC_DIR],
        cwd=ROOT,
        env=env,
    )
    path = os.path.join(STATIC_DIR, triple, "release", "depclose-cli")
    return path if r.returncode == 0 and os.path.exists(path) else None


def elf_files():
    out = []
    for d in ["/usr/bin", "/usr/sbin", "/usr/lib", "/usr/libexec"]:
        for dirpath, _dirs, names in os.walk(d):
            for n in names:
                p = os.path.join(dirpath, n)
                if os.path.islink(p) or not os.path.isfile(p):
                    continue
                try:
                    with open(p, "rb") as f:
                        head = f.read(18)
                except OSError:
                    continue
                if head[:4] == b"\x7fELF" and head[16] in (2, 3):
                    out.append(p)
    out.sort()
    ok = []
    for p in out:
        r = subprocess.run([LDSO, "--verify", p], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode in (0, 2):
            ok.append(p)
    return ok


def installed(path, name):
    """A copy of a freshly linked binary, timed instead of the linker's output.

    The linker writes its output in small pieces, and the page cache keeps the file that way
    until it is evicted: every start of it then takes more page faults (80 against 69 for a
    one-file run here) and about 0.25 ms more. An installed binary (cp, cargo install, dpkg) is
    written in large blocks, as libtree's and ldd's are, and so is this copy."""
    os.makedirs(INSTALL_DIR, exist_ok=True)
    dest = os.path.join(INSTALL_DIR, name)
    tmp = dest + ".tmp"
    shutil.copy2(path, tmp)
    os.replace(tmp, dest)
    return dest


def ensure_tools():
    if not os.path.exists("/usr/bin/time"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "time"], check=False)
    if not shutil.which("libtree"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "libtree"], check=False)
    lddtree = shutil.which("lddtree") or os.path.expanduser("~/.cargo/bin/lddtree")
    if not os.path.exists(lddtree):
        subprocess.run(["cargo", "install", "--quiet", "--locked", "lddtree"], check=False)
    subprocess.run(["cargo", "build", "--release", "--quiet", "--features", "cli"], cwd=ROOT, check=True)
    return (lddtree if os.path.exists(lddtree) else None), build_static()


def timed(cmds):
    """Run each command (argv list) in turn; total wall seconds."""
    t0 = time.perf_counter()
    for c in cmds:
        subprocess.run(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def peak_kb(cmd):
    """Peak resident memory of one fresh run (GNU time's %M), in KiB."""
    r = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return int(r.stderr.strip().splitlines()[-1])


def cpu_timed(cmd):
    """Run one command; (wall seconds, CPU seconds of user and system time)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = timed([cmd])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def spread(xs):
    """Median and the range, for printing."""
    return f"{statistics.median(xs):.3f} s [{min(xs):.3f}-{max(xs):.3f}]"


def symbols(cli, files, args):
    """The symbol check: depclose's batch with -r against the plain batch (the issue's bound:
    at most 3x), and ldd -r (LD_BIND_NOW, LD_WARN: one loader run per file) on the same files.
    The runs alternate; wall and CPU (user + system) time are both printed, as medians with
    their range: on a machine other work shares, CPU time is the steadier of the two."""
    n = len(files)
    plain, checked, plain_cpu, checked_cpu = [], [], [], []
    for _ in range(args.batch_rounds):
        w, c = cpu_timed(cli + files)
        plain.append(w)
        plain_cpu.append(c)
        w, c = cpu_timed(cli + ["-r"] + files)
        checked.append(w)
        checked_cpu.append(c)
    p, c = statistics.median(plain), statistics.median(checked)
    pc, cc = statistics.median(plain_cpu), statistics.median(checked_cpu)
    ldd_r = timed([["ldd", "-r", f] for f in files])
    print()
    print(f"symbol check ({n} files): depclose batch {p:.3f} s, with -r {c:.3f} s ({c / p:.2f}x); "
          f"ldd -r one process per file {ldd_r:.2f} s ({ldd_r / c:.0f}x depclose -r)")
    print(f"  wall: plain {spread(plain)}, -r {spread(checked)}")
    print(f"  CPU:  plain {spread(plain_cpu)}, -r {spread(checked_cpu)} ({cc / pc:.2f}x)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the one-process-per-file runs")
    ap.add_argument("--batch-rounds", type=int, default=25, help="rounds of the (fast) batch runs")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N files (0 = all)")
    ap.add_argument("--symbols-only", action="store_true", help="only the symbol check comparison (-r)")
    ap.add_argument("--baseline", help="another depclose-cli build (say, the last release, built dynamically "
                    "as target/release is) timed beside this one: rows depclose-base against depclose-dyn")
    args = ap.parse_args()

    lddtree, static = ensure_tools()
    dynamic = installed(CLI_DYNAMIC, "depclose-cli-dynamic")
    static = static and installed(static, "depclose-cli")
    cli_bin = static or dynamic
    files = elf_files()
    if args.limit:
        files = files[: args.limit]
    n = len(files)
    print(f"{n} ELF files accepted by {LDSO}; {args.rounds} rounds; {os.cpu_count()} CPUs")
    print(f"depclose: {cli_bin}" + ("" if static else " (static build failed: dynamic build used)"))

    cli = [cli_bin, "--format", "paths"]
    symbols(cli, files, args)
    if args.symbols_only:
        return
    per_file = {
        "depclose": lambda f: cli + [f],
        "ldd": lambda f: ["ldd", f],
        "libtree": lambda f: ["libtree", "-p", f],
    }
    if static:
        # The default (dynamically linked) build, for comparison.
        per_file["depclose-dyn"] = lambda f: [dynamic, "--format", "paths", f]
    if lddtree:
        per_file["lddtree-rs"] = lambda f: [lddtree, f]
    base_bin = args.baseline and installed(args.baseline, "depclose-cli-base")
    if base_bin:
        per_file["depclose-base"] = lambda f: [base_bin, "--format", "paths", f]
        per_file.setdefault("depclose-dyn", lambda f: [dynamic, "--format", "paths", f])
    batch = {
        "depclose": cli + files,
        "ldd": ["ldd"] + files,
        "libtree": ["libtree", "-p"] + files,
    }
    if base_bin:
        batch["depclose-base"] = [base_bin, "--format", "paths"] + files
        batch["depclose-dyn"] = [dynamic, "--format", "paths"] + files

    results = {}
    order = random.Random(1)
    for r in range(args.rounds):
        # One process per file, the tools interleaved file by file, so that a noisy moment
        # on the machine costs every tool alike. The order changes from file to file: the
        # first tool to touch a file reads it (and its libraries) from disk when the page
        # cache has let them go, which would otherwise always be the same tool's cost.
        totals = dict.fromkeys(per_file, 0.0)
        tools = list(per_file.items())
        for f in files:
            order.shuffle(tools)
            for tool, mk in tools:
                totals[tool] += timed([mk(f)])
        for tool, t in totals.items():
            results.setdefault(("per-file", tool), []).append(t)
        # ldd's "batch" takes seconds: once per round.
        results.setdefault(("batch", "ldd"), []).append(timed([batch["ldd"]]))
        print(f"  round {r + 1} done", file=sys.stderr)
    # The fast batch runs take tens of milliseconds: many rounds, interleaved.
    for _ in range(args.batch_rounds):
        for tool, cmd in batch.items():
            if tool != "ldd":
                results.setdefault(("batch", tool), []).append(timed([cmd]))

    print()
    print(f"{'mode':<9} {'tool':<11} {'median s':>9} {'ms/file':>8} {'vs depclose':>12}")
    for mode in ("per-file", "batch"):
        base = statistics.median(results[(mode, "depclose")])
        for (m, tool), ts in sorted(results.items()):
            if m != mode:
                continue
            med = statistics.median(ts)
            print(f"{mode:<9} {tool:<11} {med:9.3f} {1000 * med / n:8.3f} {med / base:11.2f}x")
    if base_bin:
        print()
        for mode in ("per-file", "batch"):
            new, old = statistics.median(results[(mode, "depclose-dyn")]), statistics.median(results[(mode, "depclose-base")])
            print(f"{mode}: this build (dynamic) {new:.3f} s, baseline {old:.3f} s: {new / old:.3f}x the baseline")
    print()
    print(f"depclose batch peak memory: {peak_kb(batch['depclose']) / 1024:.1f} MB")

    print()
    print("runtime evidence (issues 12/13), batch over the same files, interleaved:")
    extra = {
        "plain (--format paths)": cli + files,
        "runtime (--format runtime)": [cli_bin, "--format", "runtime"] + files,
        "symbols (-r --format paths)": cli + ["-r"] + files,
    }
    ext = {k: [] for k in extra}
    for _ in range(max(3, args.batch_rounds // 5)):
        for k, cmd in extra.items():
            ext[k].append(timed([cmd]))
    base = statistics.median(ext["plain (--format paths)"])
    for k, ts in ext.items():
        print(f"  {k:<30} {statistics.median(ts):7.3f} s {statistics.median(ts) / base:6.2f}x plain")
    if shutil.which("ldd") and os.path.exists("/usr/bin/true"):
        sample = files[: min(200, n)]
        t_r = timed([["ldd", "-r", f] for f in sample])
        t_d = timed([cli + ["-r"] + sample])
        print(f"  ldd -r on {len(sample)} files: {t_r:.3f} s; depclose -r on the same: {t_d:.3f} s ({t_d / t_r:.2f}x)")
    rootfs_vs_elfpak(cli_bin, args.rounds)

    print()
    print("scaling (depclose batch, random prefixes of the list, median of rounds):")
    shuffled = files[:]
    random.Random(42).shuffle(shuffled)
    k = 128
    while k <= n:
        ts = [timed([cli + shuffled[:k]]) for _ in range(args.rounds)]
        print(f"  {k:5d} files  {statistics.median(ts):7.3f} s")
        k *= 2
    ts = [timed([cli + shuffled]) for _ in range(args.rounds)]
    print(f"  {n:5d} files  {statistics.median(ts):7.3f} s")


def rootfs_vs_elfpak(cli_bin, rounds):
    """The redis-server rootfs (tar and OCI archive), side by side with elfpak when it is on
    PATH (elfpak is not installed by this script: set ELFPAK to its binary)."""
    prog = "/usr/bin/redis-server"
    elfpak = os.environ.get("ELFPAK") or shutil.which("elfpak")
    if not os.path.exists(prog):
        return
    tmp = tempfile.mkdtemp(prefix="depclose-bench-")
    def fresh():
        for n in os.listdir(tmp):
            p = os.path.join(tmp, n)
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    cmds = {
        "depclose tar (runtime files)": [cli_bin, prog, "-q", "--tar", f"{tmp}/a.tar"],
        "depclose tar --runtime none": [cli_bin, prog, "-q", "--runtime", "none", "--no-dpkg-records", "--tar", f"{tmp}/b.tar"],
        "depclose oci --runtime none, no gzip": [cli_bin, prog, "-q", "--runtime", "none", "--no-dpkg-records",
                                                 "--layer-compression", "none", "--oci-archive", f"{tmp}/c.tar"],
    }
    if elfpak:
        cmds["elfpak tar"] = [elfpak, "bundle", "-q", "-o", f"{tmp}/d", "--tar", f"{tmp}/d.tar", prog]
        cmds["elfpak oci"] = [elfpak, "bundle", "-q", "-o", f"{tmp}/e", "--oci-archive", f"{tmp}/e.tar", prog]
    ts = {k: [] for k in cmds}
    for _ in range(max(5, rounds * 3)):
        for k, c in cmds.items():
            fresh()
            ts[k].append(timed([c]))
    shutil.rmtree(tmp, ignore_errors=True)
    print()
    print("redis-server rootfs, median of interleaved runs" + ("" if elfpak else " (elfpak not on PATH: set ELFPAK)"))
    for k, v in ts.items():
        line = f"  {k:<38} {1000 * statistics.median(v):8.1f} ms"
        if elfpak:
            ref = ts["elfpak oci" if "oci" in k else "elfpak tar"]
            line += f"  {statistics.median(v) / statistics.median(ref):5.2f}x elfpak"
        print(line)


if __name__ == "__main__":
    main()
