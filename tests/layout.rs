//! The house rules of DESIGN.md that a compiler does not check: imports between modules point
//! one way (no module imports one that imports it back, directly or through others), and
//! `model/` and `profile/` stay pure (no raw syscalls, no process state).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`sandbox::filter`) → its source, test modules left out.
fn modules() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p
                    .strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
                    .unwrap();
                let mut name = rel
                    .with_extension("")
                    .display()
                    .to_string()
                    .replace('/', "::");
                if let Some(parent) = name.strip_suffix("::mod") {
                    name = parent.to_string();
                }
                let text = std::fs::read_to_string(&p).unwrap();
                let text = text.split("#[cfg(test)]").next().unwrap().to_string();
                out.insert(name, text);
            }
        }
    }
    out
}

/// The modules `text` (module `m`) names through `crate::` or `super::`, submodules using
/// their own ancestors left out (that is how Rust nests types, not a dependency between peers).
fn imports(m: &str, text: &str, all: &BTreeMap<String, String>) -> BTreeSet<String> {
    let mut deps = BTreeSet::new();
    let parent = m.rsplit_once("::").map(|(p, _)| p).unwrap_or("");
    for (prefix, root) in [("crate::", ""), ("super::", parent)] {
        for (i, _) in text.match_indices(prefix) {
            let path: String = text[i + prefix.len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_' || *c == ':')
                .collect();
            let parts: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            let found = (1..=parts.len()).rev().find_map(|n| {
                let c = [root]
                    .into_iter()
                    .filter(|r| !r.is_empty())
                    .chain(parts[..n].iter().copied())
                    .collect::<Vec<_>>()
                    .join("::");
                all.contains_key(&c).then_some(c)
            });
            if let Some(d) = found.or_else(|| all.contains_key(root).then(|| root.to_string()))
                && d != m
                && !m.starts_with(&format!("{d}::"))
            {
                deps.insert(d);
            }
        }
    }
    deps
}

/// Fails on a module that reaches itself through its imports.
fn assert_no_circle(deps: &BTreeMap<String, BTreeSet<String>>) {
    // A module reaches itself through its imports: a circle.
    for start in deps.keys() {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<(String, Vec<String>)> = deps[start]
            .iter()
            .map(|d| (d.clone(), vec![start.to_string(), d.clone()]))
            .collect();
        while let Some((m, path)) = todo.pop() {
            assert!(m != *start, "import circle: {}", path.join(" -> "));
            if seen.insert(m.clone()) {
                for d in deps.get(&m).into_iter().flatten() {
                    let mut p = path.clone();
                    p.push(d.clone());
                    todo.push((d.clone(), p));
                }
            }
        }
    }
}

#[test]
fn imports_point_one_way() {
    let all = modules();
    let deps: BTreeMap<String, BTreeSet<String>> = all
        .iter()
        .map(|(m, text)| (m.clone(), imports(m, text, &all)))
        .collect();
    // Between any two modules (sandbox::filter and sandbox::filter_cache)...
    assert_no_circle(&deps);
    // ...and between the top-level parts (error and sandbox/).
    let top = |m: &str| m.split("::").next().unwrap().to_string();
    let mut coarse: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, ds) in &deps {
        let entry = coarse.entry(top(m)).or_default();
        entry.extend(ds.iter().map(|d| top(d)).filter(|d| *d != top(m)));
    }
    assert_no_circle(&coarse);
}

#[test]
fn model_and_profile_are_pure() {
    for (m, text) in modules() {
        if m.starts_with("model") || m.starts_with("profile") {
            for banned in [
                "unsafe ",
                "libc::syscall",
                "crate::sandbox",
                "nix::unistd::fork",
            ] {
                assert!(!text.contains(banned), "{m} uses {banned}");
            }
        }
    }
}
