#!/usr/bin/env python3
"""Proves that scripts/deps.sh names every Debian package Hearth's build and tests need.

deps.sh is the only thing that installs system packages for `make run`, `make test` and
`make bench`, so a package that happens to be on this machine but is not reachable from its
list would make a fresh machine fail. This script collects what the project uses:

  * pkg-config modules: every `package.metadata.system-deps` entry of the crates in the
    resolved build graph (`cargo metadata`), and every literal `pkg_config::probe_library("X")`
    or `.probe("X")` in their build scripts;
  * linked libraries: every `cargo:rustc-link-lib` line the build scripts of the last release
    build printed (`$CARGO_TARGET_DIR/release/build/*/output`);
  * programs: every word of the shell scripts and the Makefile, and every string literal of
    the Rust, Python and JavaScript tests that names an executable in the system's bin
    folders;

finds the file behind each (the module's .pc, the library the linker picks, the executable)
and asks `dpkg -S` which package ships it. That package must be *covered*:

  (a) named in deps.sh's `packages=( ... )` list, or
  (b) pulled in by a named package through Depends/Pre-Depends (deps.sh installs with
      --no-install-recommends, so Recommends do not count), or
  (c) part of the base system every Debian has (Essential: yes, Priority: required) or pulled
      in by it, or
  (d) the package of a program deps.sh itself checks with `command -v` and stops without
      (Node.js and npm come from outside Debian's list on purpose).

The package graph comes from one `dpkg-query` over the installed packages. Anything not
covered is listed with what needs it, and the script exits 1.

Usage: scripts/check-deps.py [--deps FILE] [--target-dir DIR] [-v]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_TRIPLE = "x86_64-unknown-linux-gnu"

# Where a program the scripts call can come from. Anything elsewhere (~/.cargo/bin, a venv,
# node_modules/.bin, the build's own binaries) is not a Debian package's business.
PROGRAM_DIRS = ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/lib/postgresql/15/bin"]

# Words that name an executable on this machine but are not calls of it. Each needs a reason;
# a program the project really runs must be covered by deps.sh instead.
IGNORE = {
    # deps.sh runs `sudo apt-get` only when not root; the README asks for root or sudo, and
    # deps.sh cannot install the tool it needs to install anything.
    "sudo",
    # Prose in comments and messages ("the file", "the first time"), and Python's `time`
    # module in scripts/lib/file-server.py; never run as file(1) or time(1).
    "file", "time",
    # Python's `f.write(...)` in the scripts' embedded Python and file-server.py, not write(1).
    "write",
    # "red": a search term in the CLI tests (`hearth search red lent`), not ed's red.
    "red",
}

# Where the programs are looked for: shell files give every word, the others string literals.
SHELL_GLOBS = ["Makefile", ".ci/run", "scripts/**/*.sh", "scripts/lib/*", "tests/**/*.sh",
               "benches/**/*.sh"]
SOURCE_GLOBS = ["tests/**/*.rs", "crates/*/tests/**/*.rs", "tests/**/*.py", "benches/**/*.py",
                "ui/e2e/**/*.mjs", "ui/e2e-desktop/**/*.mjs",
                # `make bench`'s own drivers, which deps.sh also serves.
                "crates/*/benches/**/*.rs", "ui/bench/**/*.mjs"]

SHELL_WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
# A literal's text that could be a command: a bare name, or an absolute path to one.
COMMAND_LITERAL = re.compile(r"(?:/(?:[\w.+-]+/)*)?([A-Za-z_][\w.+-]*)")
STRING_LITERALS = {
    # Rust: double quotes only, since a single quote also starts a lifetime.
    ".rs": re.compile(r'"((?:[^"\\\n]|\\.)*)"'),
    ".py": re.compile(r'"((?:[^"\\\n]|\\.)*)"|\'((?:[^\'\\\n]|\\.)*)\''),
    ".mjs": re.compile(r'"((?:[^"\\\n]|\\.)*)"|\'((?:[^\'\\\n]|\\.)*)\'|`([^`$\\\n]*)`'),
}

PROBE_CALL = re.compile(r'(?:probe_library|\.probe)\(\s*"([^"]+)"\s*\)')
LINK_LIB = re.compile(r"^cargo::?rustc-link-lib=(.+)$")
LINK_SEARCH = re.compile(r"^cargo::?rustc-link-search=(?:[a-z]+=)?(.+)$")


class CheckError(Exception):
    """A problem that stops the check before it can judge coverage (printed, exit 1)."""


def run(cmd: list[str], cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise CheckError(f"{cmd[0]} is not installed (scripts/deps.sh installs it)")
    if check and result.returncode != 0:
        raise CheckError(f"`{' '.join(cmd)}` failed:\n{result.stderr.strip()}")
    return result


# --- What deps.sh names ----------------------------------------------------------------------

def named_packages(deps_sh: Path) -> list[str]:
    """The words of deps.sh's multi-line `packages=( ... )` array, comments stripped."""
    text = deps_sh.read_text()
    match = re.search(r"^\s*packages=\((.*?)^\s*\)", text, re.S | re.M)
    if not match:
        raise CheckError(f"{deps_sh}: no `packages=( ... )` array found")
    words = []
    for line in match.group(1).splitlines():
        words += line.split("#", 1)[0].split()
    if not words:
        raise CheckError(f"{deps_sh}: the packages array is empty")
    return words


def checked_programs(deps_sh: Path) -> set[str]:
    """Programs deps.sh requires with `command -v X` and stops without (node, npm, cargo)."""
    return set(re.findall(r"command -v ([\w.+-]+)", deps_sh.read_text()))


# --- The installed package graph -------------------------------------------------------------

@dataclass
class Package:
    name: str
    base: bool  # Essential: yes or Priority: required
    depends: list[list[str]] = field(default_factory=list)  # clauses of alternatives


def parse_relations(text: str) -> list[list[str]]:
    """`a (>= 1) | b:any, c [amd64] <!nocheck>` -> [["a", "b"], ["c"]]: names only."""
    clauses = []
    for clause in filter(None, (c.strip() for c in text.split(","))):
        alternatives = []
        for alt in clause.split("|"):
            alt = re.sub(r"\(.*?\)|\[.*?\]|<.*?>", "", alt).strip()
            if alt:
                alternatives.append(alt.split(":", 1)[0])
        clauses.append(alternatives)
    return clauses


def installed_packages() -> tuple[dict[str, Package], dict[str, set[str]]]:
    """Every installed package with its dependencies, and who provides each virtual name."""
    fmt = "${db:Status-Abbrev}\t${Package}\t${Essential}\t${Priority}\t${Pre-Depends}\t${Depends}\t${Provides}\n"
    out = run(["dpkg-query", "-W", "-f", fmt]).stdout
    packages: dict[str, Package] = {}
    providers: dict[str, set[str]] = defaultdict(set)
    for line in out.splitlines():
        status, name, essential, priority, pre, deps, provides = line.split("\t")
        if not status.startswith("ii"):
            continue  # removed but with config files left, half-installed, ...
        # One entry per name, even when several architectures are installed.
        pkg = packages.setdefault(name, Package(name, False))
        pkg.base |= essential == "yes" or priority == "required"
        pkg.depends += parse_relations(pre) + parse_relations(deps)
        for alternatives in parse_relations(provides):
            providers[alternatives[0]].add(name)
    return packages, providers


def satisfiers(name: str, packages: dict[str, Package], providers: dict[str, set[str]]) -> set[str]:
    """The installed packages that satisfy a dependency on `name` (real or virtual)."""
    found = {name} if name in packages else set()
    return found | providers.get(name, set())


def closure(roots: set[str], packages: dict[str, Package], providers: dict[str, set[str]]) -> set[str]:
    """`roots` and everything apt installs along with them (Depends and Pre-Depends).

    For `a | b`, apt keeps an alternative that is already being installed, else takes the
    first one it can: so an alternative among the roots wins, else the first installed one.
    Taking every installed alternative would let a package that is here for another reason
    pass as covered.
    """
    seen = set(roots)
    todo = list(roots)
    while todo:
        for alternatives in packages[todo.pop()].depends:
            options = [satisfiers(alt, packages, providers) for alt in alternatives]
            chosen = next((o & roots for o in options if o & roots), None)
            if chosen is None:
                chosen = next((o for o in options if o), set())
            for dep in chosen - seen:
                seen.add(dep)
                todo.append(dep)
    return seen


# --- Who ships a file ------------------------------------------------------------------------

def merged_usr_aliases(path: str) -> list[str]:
    """/bin/x and /usr/bin/x are one file on a merged-/usr system, but dpkg knows only the
    path the package shipped."""
    for short in ("/bin/", "/sbin/", "/lib/", "/lib64/"):
        if path.startswith(short):
            return [path, "/usr" + path]
        if path.startswith("/usr" + short):
            return [path, path[4:]]
    return [path]


def dpkg_owners(paths: set[str]) -> dict[str, set[str]]:
    """`dpkg -S` for many exact paths at once: path -> the packages that ship it."""
    owners: dict[str, set[str]] = defaultdict(set)
    if not paths:
        return owners
    # Exit status 1 only means some paths are unknown; they are simply absent from the map.
    out = run(["dpkg", "-S", *sorted(paths)], check=False).stdout
    for line in out.splitlines():
        if line.startswith("diversion by "):
            continue
        pkgs, _, path = line.partition(": ")
        if path in paths:
            owners[path] |= {p.strip().split(":", 1)[0] for p in pkgs.split(",")}
    return owners


def resolve_owners(files: dict[str, str]) -> dict[str, set[str]]:
    """item -> packages shipping its file: the path as found (both merged-/usr spellings),
    and only when dpkg knows none of them, the path with its symlinks resolved."""
    tries = {item: merged_usr_aliases(path) for item, path in files.items()}
    owners = dpkg_owners({p for paths in tries.values() for p in paths})
    found = {item: set().union(*(owners.get(p, set()) for p in paths)) for item, paths in tries.items()}
    unknown = {item: os.path.realpath(files[item]) for item, pkgs in found.items() if not pkgs}
    if unknown:
        real_tries = {item: merged_usr_aliases(path) for item, path in unknown.items()}
        owners = dpkg_owners({p for paths in real_tries.values() for p in paths})
        for item, paths in real_tries.items():
            found[item] = set().union(*(owners.get(p, set()) for p in paths))
    return found


# --- pkg-config modules the crates probe -----------------------------------------------------

def cargo_graph() -> list[tuple[dict, set[str]]]:
    """The crates of the resolved build graph, with their enabled features."""
    cmd = ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform", TARGET_TRIPLE]
    meta = json.loads(run(cmd, cwd=ROOT).stdout)
    by_id = {p["id"]: p for p in meta["packages"]}
    return [(by_id[n["id"]], set(n["features"])) for n in meta["resolve"]["nodes"]]


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version))


def system_deps_modules(crate: dict, features: set[str], warnings: list[str]) -> dict[str, bool]:
    """The pkg-config names in a crate's `package.metadata.system-deps` table -> whether the
    module may be absent (optional, or under a target cfg this script does not evaluate)."""
    table = ((crate.get("metadata") or {}).get("system-deps")) or {}
    modules: dict[str, bool] = {}

    def add(key: str, entry, optional: bool) -> None:
        if isinstance(entry, str):  # `glib = "2.56"`: the key is the name
            modules[key] = modules.get(key, True) and optional
            return
        gate = entry.get("feature")
        if gate and gate not in features:
            return  # system-deps probes it only with that feature on
        name = entry.get("name", key)
        # A version feature (`v2_30 = { version = "2.30", name = "..." }`) may rename it; the
        # highest enabled version wins, as in system-deps.
        renames = [(version_key(v.get("version", "")), v["name"]) for k, v in entry.items()
                   if isinstance(v, dict) and k in features and "name" in v]
        if renames:
            name = max(renames)[1]
        modules[name] = modules.get(name, True) and (optional or bool(entry.get("optional")))

    for key, entry in table.items():
        if key.startswith("cfg("):
            warnings.append(f"{crate['name']}: system-deps under `{key}` not evaluated; checked if present")
            for sub_key, sub_entry in entry.items():
                add(sub_key, sub_entry, True)
        else:
            add(key, entry, False)
    return modules


def build_script_probes(crate: dict) -> set[str]:
    """Literal `pkg_config::probe_library("X")` / `.probe("X")` calls in the build script
    (and, for a build script in a folder of its own, the files beside it)."""
    probes = set()
    crate_dir = Path(crate["manifest_path"]).parent
    for target in crate["targets"]:
        if "custom-build" not in target["kind"]:
            continue
        script = Path(target["src_path"])
        files = [script] if script.parent == crate_dir else sorted(script.parent.glob("*.rs"))
        for f in files:
            probes |= set(PROBE_CALL.findall(f.read_text(errors="replace")))
    return probes


def pkg_config_needs(warnings: list[str]) -> dict[str, tuple[set[str], bool]]:
    """module -> (the crates that probe it, whether it may be absent)."""
    needs: dict[str, tuple[set[str], bool]] = {}
    for crate, features in cargo_graph():
        found = system_deps_modules(crate, features, warnings)
        found.update({m: False for m in build_script_probes(crate)})
        for module, optional in found.items():
            crates, was_optional = needs.get(module, (set(), True))
            needs[module] = (crates | {crate["name"]}, was_optional and optional)
    return needs


def pc_files(modules: list[str]) -> dict[str, str | None]:
    """module -> its .pc file, or None when pkg-config cannot find it."""
    files = {}
    for module in modules:
        result = run(["pkg-config", "--variable=pcfiledir", module], check=False)
        pc = Path(result.stdout.strip()) / f"{module}.pc"
        files[module] = str(pc) if result.returncode == 0 and pc.is_file() else None
    return files


# --- Libraries the build linked --------------------------------------------------------------

def parse_link_lib(spec: str) -> tuple[str, str]:
    """`[KIND[:MODIFIERS]=]NAME[:RENAME]` -> (kind, name); kind defaults to dylib."""
    kind, _, name = spec.rpartition("=")
    return (kind.split(":", 1)[0] or "dylib"), name.split(":", 1)[0]


def linked_libraries(target_dir: Path) -> dict[tuple[str, str], set[str]]:
    """(kind, lib) -> the crates whose build scripts asked to link it, minus static libraries
    the build made itself (found in the build script's out folder or in a link-search folder
    inside the target folder): those come from vendored sources, not from Debian."""
    outputs = sorted((target_dir / "release" / "build").glob("*/output"))
    if not outputs:
        raise CheckError(f"no build outputs in {target_dir}/release/build: build first (make build)")
    libs: dict[tuple[str, str], set[str]] = defaultdict(set)
    for output in outputs:
        crate = output.parent.name.rsplit("-", 1)[0]
        lines = output.read_text(errors="replace").splitlines()
        search = [Path(m.group(1)) for m in map(LINK_SEARCH.match, lines) if m]
        for m in filter(None, map(LINK_LIB.match, lines)):
            kind, name = parse_link_lib(m.group(1))
            archive = f"lib{name}.a"
            built_here = kind == "static" and (
                any((d / archive).is_file() and d.resolve().is_relative_to(target_dir.resolve()) for d in search)
                or next(output.parent.rglob(archive), None) is not None  # in the crate's own out/
            )
            if not built_here and kind != "framework":
                libs[(kind, name)].add(crate)
    return libs


def library_file(kind: str, name: str) -> str | None:
    """The file the linker takes for -lNAME: gcc's answer (it echoes the bare name back when it
    finds nothing); a dynamic library falls back to the static one, as the linker does."""
    suffixes = [".a"] if kind == "static" else [".so", ".a"]
    for suffix in suffixes:
        bare = f"lib{name}{suffix}"
        path = run(["gcc", f"-print-file-name={bare}"]).stdout.strip()
        if path != bare:
            return os.path.normpath(path)
    return None


# --- Programs the scripts and tests call -----------------------------------------------------

def project_files(globs: list[str]) -> list[Path]:
    files = set()
    for pattern in globs:
        for f in ROOT.glob(pattern):
            if f.is_file() and "node_modules" not in f.relative_to(ROOT).parts:
                files.add(f)
    return sorted(files)


def words_in(path: Path) -> set[str]:
    """Shell and Makefile: every word. Other sources: string literals that look like a
    command (`"psql"`, `'/usr/bin/chromium'` -> chromium)."""
    text = path.read_text(errors="replace")
    literal = STRING_LITERALS.get(path.suffix)
    if literal is None:
        return set(SHELL_WORD.findall(text))
    words = set()
    for groups in literal.findall(text):
        for content in groups if isinstance(groups, tuple) else (groups,):
            m = COMMAND_LITERAL.fullmatch(content)
            if m:
                words.add(m.group(1))
    return words


def find_executable(name: str) -> str | None:
    for d in PROGRAM_DIRS:
        path = os.path.join(d, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def program_needs() -> dict[str, tuple[str, set[str]]]:
    """program -> (its executable, the project files that name it)."""
    needs: dict[str, tuple[str, set[str]]] = {}
    for f in project_files(SHELL_GLOBS) + project_files(SOURCE_GLOBS):
        for word in words_in(f) - IGNORE:
            exe = needs[word][0] if word in needs else find_executable(word)
            if exe:
                needs.setdefault(word, (exe, set()))[1].add(str(f.relative_to(ROOT)))
    return needs


# --- The check -------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--deps", type=Path, default=ROOT / "scripts" / "deps.sh", help="the deps.sh to check")
    parser.add_argument("--target-dir", type=Path, help="Cargo's target folder (default: $CARGO_TARGET_DIR, else ~/.cache/hearth/target)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each item, its file and its package")
    args = parser.parse_args()
    target_dir = args.target_dir or Path(os.environ.get("CARGO_TARGET_DIR") or Path.home() / ".cache/hearth/target")

    try:
        return check(args.deps, target_dir, args.verbose)
    except (CheckError, OSError) as e:
        print(f"check-deps: error: {e}", file=sys.stderr)
        return 1


def check(deps_sh: Path, target_dir: Path, verbose: bool = False) -> int:
    named = named_packages(deps_sh)
    packages, providers = installed_packages()
    errors: list[str] = []
    warnings: list[str] = []

    not_installed = [p for p in named if p not in packages]
    if not_installed:
        errors.append(f"named in {deps_sh} but not installed (run scripts/deps.sh): {' '.join(not_installed)}")
    base = {p for p, pkg in packages.items() if pkg.base}
    # One closure: on a fresh machine the base system is already there when deps.sh runs, so
    # apt settles an `a | b` with a base package as readily as with a named one.
    covered = closure({p for p in named if p in packages} | base, packages, providers)
    # (d): deps.sh stops when these programs are missing, so their packages are accounted for.
    checked = {prog: exe for prog in checked_programs(deps_sh) if (exe := find_executable(prog))}
    for pkgs in resolve_owners(checked).values():
        covered |= pkgs

    # Every need: a label for the message -> its file on this machine.
    files: dict[str, str] = {}

    modules = pkg_config_needs(warnings)
    for module, pc in pc_files(sorted(modules)).items():
        crates, optional = modules[module]
        if pc:
            files[f"pkg-config {module}"] = pc
        elif optional:
            warnings.append(f"pkg-config {module} (optional, for {', '.join(sorted(crates))}) is not installed")
        else:
            errors.append(f"pkg-config {module} (for {', '.join(sorted(crates))}) is not installed: "
                          "deps.sh misses the package that ships it")

    libs = linked_libraries(target_dir)
    for (kind, name), crates in sorted(libs.items()):
        path = library_file(kind, name)
        if path:
            files[f"link {name}"] = path
        else:
            errors.append(f"link {name} ({kind}, for {', '.join(sorted(crates))}): the linker finds no lib{name}")

    programs = program_needs()
    for prog, (exe, _) in sorted(programs.items()):
        files[f"program {prog}"] = exe

    uncovered: dict[str, list[str]] = defaultdict(list)
    for label, pkgs in sorted(resolve_owners(files).items()):
        if verbose:
            print(f"{label}: {files[label]} -> {' '.join(sorted(pkgs)) or '?'}")
        if not pkgs:
            errors.append(f"{label}: {files[label]} belongs to no Debian package")
        elif not pkgs & covered:
            uncovered[" or ".join(sorted(pkgs))].append(label)

    for w in warnings:
        print(f"check-deps: warning: {w}", file=sys.stderr)
    if uncovered or errors:
        for e in errors:
            print(f"check-deps: error: {e}", file=sys.stderr)
        if uncovered:
            print(f"check-deps: {deps_sh} does not cover these packages:", file=sys.stderr)
            for pkg, labels in sorted(uncovered.items()):
                print(f"  {pkg} (needed for: {' / '.join(sorted(labels))})", file=sys.stderr)
            them = "them" if len(uncovered) > 1 else "it"
            print(f"add {them} to scripts/deps.sh (its `packages` list)", file=sys.stderr)
        return 1

    found_modules = sum(1 for label in files if label.startswith("pkg-config "))
    print(f"deps.sh covers {found_modules} pkg-config modules, {len(libs)} linked libraries, "
          f"{len(programs)} programs ({len(named)} Debian packages named)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
