//! The module layering ARCHITECTURE.md describes: no `use crate::…` (or
//! `super::…`) arrow runs back up, between files or between top-level modules
//! (a folder counts as one). Read from the source, outside the test modules;
//! an arrow to one's own ancestor (its re-exports) is not between layers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path of a source file: `src/indicators/engine.rs` → `indicators::engine`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts.join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(prefix: &str, tree: &str) -> Vec<String> {
    let (mut items, mut depth, mut cur) = (Vec::new(), 0, String::new());
    for ch in tree.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    items.push(cur);
    let mut out = Vec::new();
    for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
        match item.split_once("::{") {
            Some((head, rest)) => {
                out.extend(expand(&format!("{prefix}::{head}"), rest.trim_end_matches('}')))
            }
            None => out.push(format!("{prefix}::{}", item.split(" as ").next().unwrap())),
        }
    }
    out
}

/// The modules each module refers to (not itself, its ancestors or descendants).
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let comment = regex::Regex::new(r"//[^\n]*").unwrap();
    let grouped = regex::Regex::new(r"crate::\{([^;]*?)\};").unwrap();
    let path = regex::Regex::new(r"\bcrate((?:::\w+)+)").unwrap();
    let sup = regex::Regex::new(r"\b((?:super::)+)((?:\w+::)*\w+)").unwrap();
    let bare = regex::Regex::new(r"(?:^|[^:\w])(\w+)::").unwrap();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let me = module_of(&src, f);
        let text = std::fs::read_to_string(f).unwrap();
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
        let code = comment.replace_all(code, "");
        let mut paths: Vec<Vec<String>> = Vec::new();
        for c in grouped.captures_iter(&code) {
            for p in expand("", &c[1]) {
                paths.push(p.trim_start_matches("::").split("::").map(String::from).collect());
            }
        }
        for c in path.captures_iter(&code) {
            paths.push(
                c[1].trim_start_matches("::")
                    .split("::")
                    .map(String::from)
                    .collect(),
            );
        }
        let is_mod = matches!(f.file_stem().and_then(|s| s.to_str()), Some("mod" | "lib"));
        let mine: Vec<&str> = if me.is_empty() {
            vec![]
        } else {
            me.split("::").collect()
        };
        for c in sup.captures_iter(&code) {
            let ups = c[1].matches("super").count();
            // `super` of `a/b.rs` is `a`; of `a/b/mod.rs` (module `a::b`) is `a` too.
            let base = &mine[..mine.len().saturating_sub(ups)];
            let mut p: Vec<String> = base.iter().map(|s| s.to_string()).collect();
            p.extend(c[2].split("::").map(String::from));
            paths.push(p);
        }
        if is_mod {
            // A parent's `child::item`.
            for c in bare.captures_iter(&code) {
                let child = if me.is_empty() {
                    c[1].to_string()
                } else {
                    format!("{me}::{}", &c[1])
                };
                if modules.contains(&child) {
                    paths.push(child.split("::").map(String::from).collect());
                }
            }
        }
        for p in paths {
            let Some(target) = (1..=p.len())
                .rev()
                .map(|k| p[..k].join("::"))
                .find(|m| modules.contains(m))
            else {
                continue;
            };
            // A module's arrow to an ancestor (using what its parent re-exports)
            // is not one between layers; to a descendant (a parent's child) it is.
            if target != me && !me.starts_with(&format!("{target}::")) {
                graph.entry(me.clone()).or_default().insert(target);
            }
        }
    }
    graph
}

/// A cycle of `graph`, if it has one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        v: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(v.to_string(), 1);
        stack.push(v.to_string());
        for w in graph.get(v).into_iter().flatten() {
            match state.get(w.as_str()) {
                Some(1) => {
                    let from = stack.iter().position(|s| s == w).unwrap();
                    let mut c = stack[from..].to_vec();
                    c.push(w.clone());
                    return Some(c);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(w, graph, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(v.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for v in graph.keys() {
        if !state.contains_key(v.as_str())
            && let Some(c) = visit(v, graph, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn no_module_is_reached_back_from_one_it_uses() {
    let files = imports();
    // The parse sees the arrows it should (a check that could not fail otherwise).
    assert!(files["run"].contains("runtime::lease"), "{:?}", files["run"]);
    assert!(files["ops::serve"].contains("run"));
    assert!(files["indicators::engine"].contains("indicators::row"));
    assert!(
        files["indicators"].contains("indicators::engine"),
        "a parent's `child::` arrow"
    );
    if let Some(c) = cycle(&files) {
        panic!("modules reach back: {}", c.join(" → "));
    }
    // Folders as one: `ops` and `runtime` are two layers, not one folder.
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in &files {
        let a = from.split("::").next().unwrap_or_default().to_string();
        for to in tos {
            let b = to.split("::").next().unwrap_or_default().to_string();
            if a != b && !a.is_empty() {
                top.entry(a.clone()).or_default().insert(b);
            }
        }
    }
    if let Some(c) = cycle(&top) {
        panic!("top-level modules reach back: {}", c.join(" → "));
    }
    // A cycle is found when there is one.
    let mut with_cycle = files.clone();
    with_cycle
        .entry("runtime::record".into())
        .or_default()
        .insert("run".into());
    assert!(cycle(&with_cycle).is_some());
}
