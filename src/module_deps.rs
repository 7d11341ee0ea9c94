//! The top-level modules of `src/` and which of them each names (`crate::X`), read from the
//! source files at test time; the test fails when the modules depend on each other in a
//! cycle. `cargo test --lib module_deps -- --nocapture` prints the list.
//!
//! Comment lines are skipped (a doc comment may name any module). The modules are the ones
//! `lib.rs` declares, so the command line (`main.rs`, `cli/`) is not among them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The modules `lib.rs` declares (`pub mod x;` or `mod x;`).
fn declared(lib: &str) -> Vec<String> {
    lib.lines()
        .map(str::trim)
        .filter_map(|l| {
            l.strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("mod "))
        })
        .filter_map(|l| l.strip_suffix(';'))
        .map(str::to_string)
        .collect()
}

/// A module's files: `src/x.rs` and everything under `src/x/`.
fn files_of(src: &Path, module: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let file = src.join(format!("{module}.rs"));
    if file.is_file() {
        out.push(file);
    }
    let mut dirs = vec![src.join(module)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out
}

/// The source without its comment lines.
fn code(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The first names of a `{a, b::c, d::{e, f}}` group (`text` starts after its `{`).
fn group_heads(text: &str) -> Vec<&str> {
    let (mut heads, mut depth, mut start) = (Vec::new(), 0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                heads.push(ident(text[start..i].trim_start()));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                heads.push(ident(text[start..i].trim_start()));
                start = i + 1;
            }
            _ => {}
        }
    }
    heads
}

/// The top-level names a piece of source reaches through `crate::`.
fn named(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let heads = match rest.strip_prefix('{') {
            Some(group) => group_heads(group),
            None => vec![ident(rest)],
        };
        out.extend(
            heads
                .into_iter()
                .filter(|h| !h.is_empty())
                .map(String::from),
        );
    }
    out
}

/// Which declared module names which, read from `src`.
fn graph(src: &Path) -> Graph {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    let modules = declared(&lib);
    let mut graph = Graph::new();
    for m in &modules {
        let mut deps = BTreeSet::new();
        for f in files_of(src, m) {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            deps.extend(named(&code(&text)));
        }
        deps.retain(|d| d != m && modules.contains(d));
        graph.insert(m.clone(), deps);
    }
    graph
}

/// A cycle of modules (its first module repeated at the end), if there is one.
fn cycle(graph: &Graph) -> Option<Vec<String>> {
    // 0: not seen, 1: on the current path, 2: done.
    fn visit(g: &Graph, m: &str, mark: &mut BTreeMap<String, u8>, path: &mut Vec<String>) -> bool {
        mark.insert(m.to_string(), 1);
        path.push(m.to_string());
        for d in g.get(m).into_iter().flatten() {
            match mark.get(d).copied().unwrap_or(0) {
                1 => {
                    let from = path.iter().position(|p| p == d).unwrap_or(0);
                    path.drain(..from);
                    path.push(d.clone());
                    return true;
                }
                0 if visit(g, d, mark, path) => return true,
                _ => {}
            }
        }
        path.pop();
        mark.insert(m.to_string(), 2);
        false
    }
    let mut mark = BTreeMap::new();
    for m in graph.keys() {
        let mut path = Vec::new();
        if mark.get(m).copied().unwrap_or(0) == 0 && visit(graph, m, &mut mark, &mut path) {
            return Some(path);
        }
    }
    None
}

fn listing(graph: &Graph) -> String {
    graph
        .iter()
        .map(|(m, deps)| {
            let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
            format!("{m} -> {}\n", deps.join(", "))
        })
        .collect()
}

#[test]
fn the_modules_of_src_have_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = graph(&src);
    println!("{}", listing(&graph));
    assert!(
        graph.len() > 10,
        "too few modules read from {}",
        src.display()
    );
    if let Some(c) = cycle(&graph) {
        panic!(
            "the modules depend on each other in a cycle: {}\n{}",
            c.join(" -> "),
            listing(&graph)
        );
    }
}

#[test]
fn names_are_read_from_paths_and_groups() {
    let text = "use crate::a::B;\n// crate::commented\nuse crate::{b, c::{D, E},\n    d::F};\nfn f() { crate::e::g() }";
    let names: Vec<String> = named(&code(text)).into_iter().collect();
    assert_eq!(names, ["a", "b", "c", "d", "e"]);
}

#[test]
fn a_cycle_is_found_with_its_path() {
    let mut g = Graph::new();
    let edge = |g: &mut Graph, a: &str, b: &str| {
        g.entry(a.into()).or_default().insert(b.into());
    };
    edge(&mut g, "api", "store");
    edge(&mut g, "engine", "feed");
    assert_eq!(cycle(&g), None);
    edge(&mut g, "feed", "api");
    edge(&mut g, "api", "engine");
    assert_eq!(
        cycle(&g).unwrap(),
        ["api", "engine", "feed", "api"].map(String::from)
    );
}
