//! The hub's modules form layers: a module may import from lower layers and from siblings in
//! its own layer, never from a higher one, and no two modules may import each other (directly
//! or round a longer loop). This test reads every `.rs` file under `server/src`, collects its
//! `crate::<module>` references (use statements, grouped `use crate::{a, b::c}`, and inline
//! paths such as `crate::store::Store` in code, doc links or test modules alike: test code is
//! not exempt) and checks them against [`LAYERS`].
//!
//! Out of its reach: `super::super::…` paths that climb out of a top-level module (none exist;
//! write `crate::` instead) and `slt_hub::` paths (only the binary, `main.rs`, uses those).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lowest first. A module may import from its own layer and below.
const LAYERS: &[(&str, &[&str])] = &[
    // Pure types and helpers that depend on nothing else in the crate.
    (
        "core",
        &["domain", "sealed", "limits", "metrics", "telemetry"],
    ),
    // Who is calling, what may be seen, anonymising, and what exists.
    ("rules", &["identity", "policy", "anonymise", "store"]),
    // Read models and the access log over the store, within the policy.
    ("views", &["feed", "picture", "audit", "record_classes"]),
    // proto <-> domain, and the proto-free use cases the edges call.
    ("services", &["wire", "ingest", "release"]),
    // The edges: gRPC services, the federation pull worker and the TAXII server.
    ("edges", &["api", "federation", "taxii"]),
    // The config file and operator tooling: they name every layer's settings.
    ("assembly", &["config", "pki", "dev", "doctor"]),
    // The crate root (`serve`, `HubError`, `load_policy`) and the binary.
    ("root", &["lib", "main"]),
];

/// Imports that break the rules today, each with the reason and the change that removes it.
/// An exception that no longer matches anything fails the test, so it is deleted when the code
/// is fixed.
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).expect("server/src is readable");
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// `src/api/guard.rs` -> `api`, `src/lib.rs` -> `lib`.
fn top_module(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("file under src");
    let first = relative
        .components()
        .next()
        .expect("non-empty path")
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.strip_suffix(".rs").unwrap_or(&first).to_string()
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The leading identifier of `text`.
fn ident(text: &str) -> &str {
    let end = text.find(|c: char| !is_ident(c)).unwrap_or(text.len());
    &text[..end]
}

/// The first path segment of every item of a `{...}` group (`text` starts after the `{`).
fn group_heads(text: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0usize;
    let mut at_item_start = true;
    for (index, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => at_item_start = true,
            c if at_item_start && is_ident(c) && depth == 0 => {
                heads.push(ident(&text[index..]).to_string());
                at_item_start = false;
            }
            c if !c.is_whitespace() => at_item_start = false,
            _ => {}
        }
    }
    heads
}

/// Every top-level name `text` reaches through `crate::`.
fn crate_references(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(at) = rest.find("crate::") {
        let start = offset + at;
        let before = text[..start].chars().next_back();
        let after = &text[start + "crate::".len()..];
        // `$crate::` (macros) and `my_crate::` are other crates' paths.
        if !before.is_some_and(|c| is_ident(c) || c == '$') {
            if let Some(group) = after.strip_prefix('{') {
                found.extend(group_heads(group));
            } else if !ident(after).is_empty() {
                found.push(ident(after).to_string());
            }
        }
        offset = start + "crate::".len();
        rest = &text[offset..];
    }
    found
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

/// module -> module it imports -> the files that do.
type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

fn import_graph() -> Graph {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let known: BTreeSet<String> = files.iter().map(|file| top_module(&src, file)).collect();
    let mut graph = Graph::new();
    for file in &files {
        let from = top_module(&src, file);
        let text = std::fs::read_to_string(file).expect("source is readable");
        let shown = file
            .strip_prefix(&src)
            .unwrap_or(file)
            .display()
            .to_string();
        for name in crate_references(&text) {
            // `crate::HubError`, `crate::serve`: items of the crate root.
            let to = if known.contains(&name) {
                name
            } else {
                "lib".to_string()
            };
            if to != from && !(from == "main" && to == "lib") {
                graph
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_default()
                    .insert(shown.clone());
            }
        }
    }
    graph
}

fn excepted(from: &str, to: &str) -> bool {
    EXCEPTIONS
        .iter()
        .any(|(exception_from, exception_to, _)| *exception_from == from && *exception_to == to)
}

/// A loop of imports, if any (depth-first, exceptions left out).
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|seen| seen == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flat_map(BTreeMap::keys) {
            if excepted(node, next) {
                continue;
            }
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn every_module_is_in_a_layer() {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let missing: BTreeSet<String> = files
        .iter()
        .map(|file| top_module(&src, file))
        .filter(|module| layer_of(module).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "top-level modules without a layer in tests/layers.rs: {missing:?}"
    );
}

#[test]
fn no_module_imports_from_a_higher_layer() {
    let graph = import_graph();
    let mut upward = Vec::new();
    for (from, targets) in &graph {
        for (to, files) in targets {
            let (Some(from_layer), Some(to_layer)) = (layer_of(from), layer_of(to)) else {
                continue; // reported by every_module_is_in_a_layer
            };
            if to_layer > from_layer && !excepted(from, to) {
                upward.push(format!(
                    "{from} ({}) imports {to} ({}) in {}",
                    LAYERS[from_layer].0,
                    LAYERS[to_layer].0,
                    files.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports from a higher layer:\n  {}",
        upward.join("\n  ")
    );
}

#[test]
fn no_modules_import_each_other() {
    let graph = import_graph();
    if let Some(cycle) = find_cycle(&graph) {
        let steps: Vec<String> = cycle
            .windows(2)
            .map(|pair| {
                let files = &graph[&pair[0]][&pair[1]];
                format!(
                    "{} -> {} ({})",
                    pair[0],
                    pair[1],
                    files.iter().cloned().collect::<Vec<_>>().join(", ")
                )
            })
            .collect();
        panic!("import circle:\n  {}", steps.join("\n  "));
    }
}

#[test]
fn every_exception_is_still_needed() {
    let graph = import_graph();
    for (from, to, why) in EXCEPTIONS {
        assert!(
            graph
                .get(*from)
                .is_some_and(|targets| targets.contains_key(*to)),
            "{from} no longer imports {to}: delete its exception ({why})"
        );
    }
}

#[test]
fn references_are_found_in_every_form() {
    let text = "use crate::store::Store;\nuse crate::{audit, domain::{A, B}, feed::X};\n\
                let x = crate::picture::compute(); $crate::ignored; other_crate::no;";
    assert_eq!(
        crate_references(text),
        ["store", "audit", "domain", "feed", "picture"]
    );
}
