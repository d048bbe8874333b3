//! The module graph, checked from the source: every top-level module of `src` sits in a layer
//! (leaf < domain < storage < service < front ends < app), may import only from its own layer or
//! below, and the graph has no cycle, neither between top-level modules nor between the
//! submodules of one module (e.g. `domain::error` ⇄ `domain::identity`). Every module is also
//! listed in `lib.rs`'s layout comment and the README's layout section. The load generator
//! (`bench/`) stays outside: no HTTP client in the server's dependencies, no server import in it.
//!
//! Paths are read from the text (`crate::…`, `$crate::…`, `super::…`, with `{…}` groups), not
//! from the compiler: enough for a tree that writes its imports as paths, and it runs in
//! milliseconds. `cargo test --test layers -- --nocapture` prints the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may use its own layer and the layers before it.
const LAYERS: &[(&str, &[&str])] = &[
    // Imports nothing from the crate (checked below): helpers any layer may use.
    ("leaf", &["util", "metrics", "telemetry"]),
    // Types and rules, no I/O: identity and visibility, API keys and token hashing, the
    // in-process event types and their notifier.
    ("domain", &["domain", "auth", "realtime"]),
    ("storage", &["storage"]),
    // Use-cases over storage: the service, its error conversions, export/import/copy.
    ("service", &["service", "error", "transfer"]),
    ("front end", &["mcp", "http"]),
    // Start-up, settings and the command line.
    (
        "app",
        &[
            "app",
            "config",
            "cli",
            "client_config",
            "healthcheck",
            "doctor",
            "inbox_cli",
        ],
    ),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/storage/sqlite/mod.rs` → `[storage, sqlite]`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The text without comments (line and doc comments; `://` in string literals is kept).
fn code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut cut = line.len();
        let mut from = 0;
        while let Some(at) = line[from..].find("//") {
            let at = from + at;
            if at > 0 && line.as_bytes()[at - 1] == b':' {
                from = at + 2;
                continue;
            }
            cut = at;
            break;
        }
        out.push_str(&line[..cut]);
        out.push('\n');
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Reads the path that starts at `text` (just after `crate::` or `super::`), expanding `{…}`
/// groups: `storage::{self, dump::X}` gives `[storage, self]` and `[storage, dump, X]`.
fn read_paths(text: &str, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let text = text.trim_start();
    if let Some(group) = text.strip_prefix('{') {
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    read_paths(&group[start..i], prefix.clone(), out);
                    return;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    read_paths(&group[start..i], prefix.clone(), out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        return;
    }
    let end = text.find(|c: char| !is_ident(c)).unwrap_or(text.len());
    let mut path = prefix;
    if end > 0 {
        path.push(text[..end].to_owned());
    }
    match text[end..].strip_prefix("::") {
        Some(rest) => read_paths(rest, path, out),
        None if !path.is_empty() => out.push(path),
        None => {}
    }
}

/// Every module path a file names, resolved from the crate root. Text after an inline
/// `mod name {` counts as inside `name` (inline modules, `mod tests` above all, close at the end
/// of a file in this tree), so its `super::` names the file's module.
fn references(file: &Path) -> Vec<Vec<String>> {
    let text = code(&std::fs::read_to_string(file).unwrap());
    let mut out = Vec::new();
    let mut module = module_of(file);
    let mut segments = text.split("mod ");
    let first = segments.next().unwrap_or_default();
    references_in(first, &module, &mut out);
    for segment in segments {
        let name_end = segment
            .find(|c: char| !is_ident(c))
            .unwrap_or(segment.len());
        let inline = name_end > 0 && segment[name_end..].trim_start().starts_with('{');
        if inline {
            module.truncate(module_of(file).len());
            module.push(segment[..name_end].to_owned());
        }
        references_in(segment, &module, &mut out);
    }
    out
}

fn references_in(text: &str, here: &[String], out: &mut Vec<Vec<String>>) {
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        let before = text[..at].chars().next_back();
        if before.is_some_and(is_ident) {
            at += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        }
        let (root, len) = if rest.starts_with("crate::") {
            (Vec::new(), "crate::".len())
        } else if rest.starts_with("super::") {
            // `super::super::x` climbs twice.
            let mut base = here.to_vec();
            let mut len = 0;
            while rest[len..].starts_with("super::") {
                base.pop();
                len += "super::".len();
            }
            (base, len)
        } else {
            at += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let mut found = Vec::new();
        read_paths(&rest[len..], root, &mut found);
        out.extend(found.into_iter().filter(|p| !p.is_empty()));
        at += len;
    }
}

/// The modules `lib.rs` declares.
fn declared_modules() -> BTreeSet<String> {
    std::fs::read_to_string(src().join("lib.rs"))
        .unwrap()
        .lines()
        .filter_map(|l| {
            let l = l.trim().strip_prefix("pub ").unwrap_or(l.trim());
            l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)
        })
        .collect()
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, ms)| ms.contains(&module))
}

/// A cycle in `graph`, as the path that closes it, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(pos) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[pos..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

struct Graphs {
    /// Top-level module → the top-level modules it names, with one file that does.
    top: BTreeMap<String, BTreeMap<String, String>>,
    /// `top::sub` → the sibling submodules it names (edges to and from `top` itself excluded).
    sub: BTreeMap<String, BTreeSet<String>>,
}

fn graphs() -> Graphs {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    // Second-level modules that exist as files or folders: `storage::sqlite`, `domain::error`.
    let submodules: BTreeSet<Vec<String>> = files
        .iter()
        .map(|f| module_of(f))
        .filter(|m| m.len() >= 2)
        .map(|m| m[..2].to_vec())
        .collect();
    let mut top: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut sub: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let here = module_of(file);
        if here.is_empty() || here == ["main"] {
            continue; // lib.rs declares the modules; main.rs is the binary, above everything.
        }
        let name = file.strip_prefix(src()).unwrap().display().to_string();
        top.entry(here[0].clone()).or_default();
        for path in references(file) {
            if path[0] != here[0] {
                top.entry(here[0].clone())
                    .or_default()
                    .entry(path[0].clone())
                    .or_insert_with(|| name.clone());
            } else if here.len() >= 2 && path.len() >= 2 {
                let (from, to) = (&here[..2], &path[..2]);
                if from != to && submodules.contains(to) {
                    sub.entry(from.join("::"))
                        .or_default()
                        .insert(to.join("::"));
                }
            }
        }
    }
    Graphs { top, sub }
}

#[test]
fn every_module_has_a_layer_and_imports_only_downwards() {
    let graphs = graphs();
    let declared = declared_modules();
    let mut problems = Vec::new();
    for module in &declared {
        if layer_of(module).is_none() {
            problems.push(format!(
                "module `{module}` is in no layer: add it to LAYERS in tests/layers.rs"
            ));
        }
    }
    for (_, modules) in LAYERS {
        for module in *modules {
            if !declared.contains(*module) {
                problems.push(format!(
                    "LAYERS names `{module}`, which lib.rs does not declare"
                ));
            }
        }
    }
    for (from, deps) in &graphs.top {
        let Some(from_layer) = layer_of(from) else {
            continue;
        };
        for (to, file) in deps {
            match layer_of(to) {
                _ if LAYERS[0].1.contains(&from.as_str()) => problems.push(format!(
                    "src/{file}: leaf module `{from}` uses `crate::{to}`; leaves import nothing from the crate"
                )),
                Some(to_layer) if to_layer > from_layer => problems.push(format!(
                    "src/{file}: `{from}` ({}) uses `crate::{to}` ({}), a higher layer",
                    LAYERS[from_layer].0, LAYERS[to_layer].0
                )),
                None if !declared.contains(to) => problems.push(format!(
                    "src/{file}: `crate::{to}` is not a module lib.rs declares"
                )),
                _ => {}
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_cycle_between_modules() {
    let graphs = graphs();
    let top: BTreeMap<String, BTreeSet<String>> = graphs
        .top
        .iter()
        .map(|(m, deps)| (m.clone(), deps.keys().cloned().collect()))
        .collect();
    if let Some(cycle) = find_cycle(&top) {
        panic!("top-level modules form a cycle: {}", cycle.join(" → "));
    }
    if let Some(cycle) = find_cycle(&graphs.sub) {
        panic!("submodules form a cycle: {}", cycle.join(" → "));
    }
}

/// `lib.rs`'s layout comment and the README's layout section name every module.
#[test]
fn the_layout_docs_list_every_module() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let readme = std::fs::read_to_string(src().join("../README.md")).unwrap();
    let layout = readme
        .split("## Layout")
        .nth(1)
        .expect("README.md has a `## Layout` section")
        .split("\n## ")
        .next()
        .unwrap_or_default();
    let mut missing = Vec::new();
    for module in declared_modules() {
        if !lib.contains(&format!("[`{module}`]")) {
            missing.push(format!("lib.rs's layout comment lacks [`{module}`]"));
        }
        let folder = format!("`src/{module}`");
        let file = format!("`src/{module}.rs`");
        let exists = |p: &str| {
            src()
                .join(p.trim_matches('`').trim_start_matches("src/"))
                .exists()
        };
        let named = [&folder, &file]
            .iter()
            .any(|p| layout.contains(p.as_str()) && exists(p));
        if !named {
            missing.push(format!(
                "README.md's layout section lacks {} (as it exists on disk)",
                if src().join(module).is_dir() {
                    folder
                } else {
                    file
                }
            ));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// Prints the graph (`--nocapture`), for reviews and release notes.
#[test]
fn print_the_module_graph() {
    let graphs = graphs();
    let mut text = String::new();
    for (name, modules) in LAYERS {
        text.push_str(&format!("{name}:\n"));
        for module in *modules {
            let deps: Vec<&str> = graphs
                .top
                .get(*module)
                .map(|d| d.keys().map(String::as_str).collect())
                .unwrap_or_default();
            text.push_str(&format!("  {module} → {}\n", deps.join(", ")));
        }
    }
    println!("{text}");
}

/// The `[dependencies]` table of a manifest, as text.
fn dependencies_table(manifest: &str) -> String {
    let text = std::fs::read_to_string(src().join("..").join(manifest)).unwrap();
    text.split("\n[dependencies]\n")
        .nth(1)
        .expect("a [dependencies] table")
        .split("\n[")
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The load generator is a workspace crate of its own so that the server binary links no HTTP
/// client library (reqwest, rmcp's client side; the inbox command's few requests go through
/// hyper's client connection, which axum already builds); the generator speaks only the wire
/// protocol, so it never imports the server either.
#[test]
fn the_server_links_no_http_client_and_the_bench_no_server() {
    let server = dependencies_table("Cargo.toml");
    // (The optional `otel` feature's exporter may bring one; the default build has none.)
    assert!(
        !server.lines().any(|l| l.starts_with("reqwest")),
        "the server's [dependencies] name reqwest: it belongs to bench/ or [dev-dependencies]"
    );
    let rmcp = server
        .lines()
        .find(|l| l.starts_with("rmcp "))
        .expect("rmcp in [dependencies]");
    assert!(
        !rmcp.contains("\"client\"") && !rmcp.contains("-client"),
        "rmcp's client features belong to bench/ or [dev-dependencies]: {rmcp}"
    );
    let bench = dependencies_table("bench/Cargo.toml");
    assert!(
        !bench.contains("shared-context-server"),
        "bench/ depends on the server crate"
    );
    let mut files = Vec::new();
    rust_files(&src().join("../bench/src"), &mut files);
    assert!(!files.is_empty(), "bench/src has no Rust files");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains("shared_context_server"),
            "{} imports the server crate",
            file.display()
        );
    }
}
