//! Structural checks that keep the codebase shaped as ARCHITECTURE.md says.
//!
//! - Every `.rs` file opens with a `//!` header saying what it is for.
//! - No `mod.rs` files: a module `foo` is `foo.rs` beside a `foo/` folder.
//! - Every crate inherits the workspace lints (which forbid `unsafe`), except the one crate
//!   allowed native code.
//! - Dependencies point the right way: each workspace crate may use only the workspace crates
//!   its layer allows, and each foreign system (SQLite, llama.cpp, the keychain, ...) is used
//!   by exactly one adapter crate. Dev-dependencies are exempt: tests may reach anywhere.
//! - Within a crate, no two top-level modules use each other (`crate::a` in `b` and
//!   `crate::b` in `a`): a pair like that is one module split in two, or a shared piece that
//!   wants a file of its own. A module's own submodules (`a/x.rs`) count as `a`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use cargo_metadata::{DependencyKind, MetadataCommand};

/// For each workspace crate, the workspace crates it may depend on. `None`: any (test harness).
const LAYERS: &[(&str, Option<&[&str]>)] = &[
    ("hearth-types", Some(&[])),
    ("hearth-store", Some(&["hearth-types"])),
    ("hearth-secrets", Some(&["hearth-types"])),
    // Not hearth-secrets: a model crate carries a key (hearth_types::Secret) but never opens
    // the keychain, so the llama engine does not build the D-Bus stack.
    ("hearth-llm", Some(&["hearth-types"])),
    ("hearth-llama", Some(&["hearth-types", "hearth-llm"])),
    ("hearth-sync", Some(&["hearth-types", "hearth-store", "hearth-secrets"])),
    ("hearth-sandbox", Some(&["hearth-types"])),
    ("hearth-docs", Some(&["hearth-types"])),
    (
        "hearth-core",
        Some(&["hearth-types", "hearth-store", "hearth-secrets", "hearth-llm", "hearth-sync", "hearth-sandbox", "hearth-docs"]),
    ),
    ("hearth-mcp", Some(&["hearth-types", "hearth-core", "hearth-llm"])),
    ("hearth-server", Some(&["hearth-types", "hearth-core", "hearth-llm", "hearth-mcp"])),
    // The composition root: it alone picks the OS keychain as Core's secret store.
    ("hearth-host", Some(&["hearth-types", "hearth-core", "hearth-server", "hearth-llama", "hearth-llm", "hearth-mcp", "hearth-secrets"])),
    (
        "hearth-cli",
        Some(&["hearth-types", "hearth-core", "hearth-host", "hearth-llama", "hearth-llm", "hearth-mcp", "hearth-secrets", "hearth-sync"]),
    ),
    ("hearth-desktop", Some(&["hearth-types", "hearth-core", "hearth-host"])),
    ("hearth-e2e", None),
    ("hearth-bench-bare-window", Some(&[])),
    ("xtask", Some(&[])),
];

/// Foreign-system crates and the only workspace crates that may depend on them.
const ADAPTERS: &[(&str, &[&str])] = &[
    ("rusqlite", &["hearth-store"]),
    ("libsqlite3-sys", &["hearth-store"]),
    ("llama-cpp-2", &["hearth-llama"]),
    ("llama-cpp-sys-2", &["hearth-llama"]),
    ("keyring", &["hearth-secrets"]),
    ("keyring-core", &["hearth-secrets"]),
    ("zbus-secret-service-keyring-store", &["hearth-secrets"]),
    ("linux-keyutils-keyring-store", &["hearth-secrets"]),
    ("postgrest", &["hearth-sync"]),
    ("rquickjs", &["hearth-sandbox"]),
    // The kernel's sandboxing calls, for the code nodes' child process only.
    ("landlock", &["hearth-sandbox"]),
    ("seccompiler", &["hearth-sandbox"]),
    ("reqwest", &["hearth-llm", "hearth-sync"]),
    ("axum", &["hearth-server"]),
    // The MCP protocol (client and server) lives in one crate.
    ("rmcp", &["hearth-mcp"]),
    // The bare window is the desktop benchmark's reference: Tauri and nothing else.
    ("tauri", &["hearth-desktop", "hearth-bench-bare-window"]),
];

/// The one crate allowed `unsafe` (its own lints instead of the workspace's).
const NATIVE: &str = "hearth-llama";

/// Runs every check on the workspace at `root` and returns the problems found.
pub(crate) fn check(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    for file in rust_files(root)? {
        let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        let rel = file.strip_prefix(root).unwrap_or(&file).display().to_string();
        problems.extend(check_header(&rel, &text));
        if file.file_name().is_some_and(|n| n == "mod.rs") {
            problems.push(format!("{rel}: use `foo.rs` beside `foo/` instead of `foo/mod.rs`"));
        }
    }

    let metadata = MetadataCommand::new().manifest_path(root.join("Cargo.toml")).no_deps().exec()?;
    let mut edges = BTreeMap::new();
    for package in metadata.workspace_packages() {
        let src = package.manifest_path.parent().map(|dir| dir.join("src")).context("a manifest path without a folder")?;
        problems.extend(check_module_cycles(&package.name, &module_uses(src.as_std_path())?));
        let deps =
            package.dependencies.iter().filter(|d| d.kind != DependencyKind::Development).map(|d| d.name.clone()).collect::<Vec<_>>();
        edges.insert(package.name.to_string(), deps);
        let manifest = std::fs::read_to_string(&package.manifest_path).with_context(|| format!("reading {}", package.manifest_path))?;
        problems.extend(check_lints(&package.name, &manifest));
    }
    problems.extend(check_edges(&edges));
    Ok(problems)
}

/// The first non-blank line of a Rust file must be a `//!` comment.
fn check_header(rel: &str, text: &str) -> Option<String> {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    (!first.starts_with("//!")).then(|| format!("{rel}: starts without a `//!` header saying what the file is for"))
}

fn check_lints(package: &str, manifest: &str) -> Option<String> {
    let inherits = manifest.contains("[lints]\nworkspace = true");
    match (package == NATIVE, inherits) {
        (false, false) => Some(format!("{package}: Cargo.toml needs `[lints]\\nworkspace = true` (it forbids unsafe code)")),
        _ => None,
    }
}

/// Checks each crate's normal and build dependencies against [`LAYERS`] and [`ADAPTERS`].
fn check_edges(edges: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut problems = Vec::new();
    for (package, deps) in edges {
        let Some((_, allowed)) = LAYERS.iter().find(|(name, _)| name == package) else {
            problems.push(format!("{package}: not in xtask's LAYERS table; add it with the crates it may use"));
            continue;
        };
        for dep in deps {
            let internal = edges.contains_key(dep);
            if let (true, Some(allowed)) = (internal, allowed)
                && !allowed.contains(&dep.as_str())
            {
                problems.push(format!("{package} depends on {dep}, which its layer does not allow"));
            }
            if let Some((_, owners)) = ADAPTERS.iter().find(|(name, _)| name == dep)
                && !owners.contains(&package.as_str())
                && allowed.is_some()
            {
                problems.push(format!("{package} depends on {dep}; only {} may (one adapter per foreign system)", owners.join(", ")));
            }
        }
    }
    problems
}

/// For each top-level module of the crate whose sources are in `src` (`a.rs` with `a/`), the
/// other top-level modules it names as `crate::b`, in a path or in a `use crate::{...}` group.
fn module_uses(src: &Path) -> anyhow::Result<BTreeMap<String, BTreeSet<String>>> {
    let mut modules: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for file in rust_files(src)? {
        let rel = file.strip_prefix(src).unwrap_or(&file);
        let Some(top) = rel.components().next().and_then(|c| c.as_os_str().to_str()) else { continue };
        let top = top.trim_end_matches(".rs");
        if !matches!(top, "lib" | "main" | "bin") {
            modules.entry(top.to_owned()).or_default().push(file.clone());
        }
    }
    let mut uses = BTreeMap::new();
    for (module, files) in &modules {
        let mut named = BTreeSet::new();
        for file in files {
            let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
            named.extend(crate_paths(&text).into_iter().filter(|m| m != module && modules.contains_key(m)));
        }
        uses.insert(module.clone(), named);
    }
    Ok(uses)
}

/// The first segment of every `crate::` path in `text` (comments left out): `crate::a::X`
/// gives `a`; `crate::{a, b::X, c::{Y, Z}}` gives `a`, `b` and `c`.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let code: String = text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut out = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        // `hearth_crate::x` is not this crate.
        if code[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            out.insert(ident(rest));
            continue;
        };
        // The names at depth 0 of the group: after its `{` and after each `,`.
        let (mut depth, mut start) = (0usize, true);
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => start = true,
                c if start && !c.is_whitespace() => {
                    out.insert(ident(&group[i..]));
                    start = false;
                }
                _ => {}
            }
        }
    }
    out.remove("");
    out
}

/// Pairs of modules that use each other.
fn check_module_cycles(package: &str, uses: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut problems = Vec::new();
    for (a, named) in uses {
        for b in named.iter().filter(|b| a < *b) {
            if uses.get(b).is_some_and(|theirs| theirs.contains(a)) {
                problems.push(format!("{package}: modules `{a}` and `{b}` use each other; move what they share into a module of its own"));
            }
        }
    }
    problems
}

/// Every `.rs` file of the project, skipping build output and front-end dependencies.
fn rust_files(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            // Something else (a build, a test's scratch folder) removed it while we walked.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
        };
        for entry in entries {
            let path = entry.with_context(|| format!("listing {}", dir.display()))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if !matches!(name, "target" | "node_modules" | ".git" | "gen") && !name.starts_with('.') {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests;
