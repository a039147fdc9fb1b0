//! Kubernetes output: Security Profiles Operator custom resources (SeccompProfile,
//! AppArmorProfile) and the container `securityContext` that uses them and meets the Pod
//! Security "restricted" standard. Pure; YAML written by a small emitter (JSON-compatible
//! scalars, block collections).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::apparmor;
use super::seccomp::SeccompProfile;
use crate::model::Recording;
use crate::model::files::{CREATE, EXEC, READ, READDIR, REMOVE, WRITE};

pub const API_VERSION: &str = "security-profiles-operator.x-k8s.io/v1";

fn metadata(name: &str, namespace: Option<&str>) -> Value {
    let mut m = json!({ "name": name, "labels": { "app.kubernetes.io/managed-by": "syscage" } });
    if let Some(ns) = namespace {
        m["namespace"] = json!(ns);
    }
    m
}

/// A SeccompProfile from an OCI-form profile. SPO's schema has no per-rule comments and no
/// `defaultErrnoRet` (the default errno is EPERM): warnings say what was dropped.
pub fn seccomp_profile(
    name: &str,
    namespace: Option<&str>,
    p: &SeccompProfile,
) -> (Value, Vec<String>) {
    let mut warnings = Vec::new();
    let mut spec = serde_json::to_value(p).unwrap_or_default();
    if let Some(obj) = spec.as_object_mut() {
        if let Some(e) = obj.remove("defaultErrnoRet")
            && e != json!(libc::EPERM)
        {
            warnings.push(format!(
                "defaultErrnoRet {e} dropped: SeccompProfile's default errno is EPERM"
            ));
        }
        for key in ["archMap", "listenerPath", "listenerMetadata"] {
            if obj.remove(key).is_some() {
                warnings.push(format!(
                    "{key} dropped: resolve or remove it before generating a SeccompProfile"
                ));
            }
        }
        if let Some(rules) = obj.get_mut("syscalls").and_then(Value::as_array_mut) {
            // Without comments, rules that differ only in their names become one rule.
            let mut grouped: Vec<Value> = Vec::new();
            for mut r in rules.drain(..) {
                if let Some(o) = r.as_object_mut() {
                    o.remove("comment");
                }
                let same = |g: &Value| {
                    ["action", "errnoRet", "args", "includes", "excludes"]
                        .iter()
                        .all(|k| g.get(k) == r.get(k))
                };
                match grouped.iter_mut().find(|g| same(g)) {
                    Some(g) => {
                        let names: Vec<Value> = r["names"].as_array().cloned().unwrap_or_default();
                        if let Some(list) = g["names"].as_array_mut() {
                            list.extend(names);
                        }
                    }
                    None => grouped.push(r),
                }
            }
            *rules = grouped;
            for r in rules.iter_mut().filter_map(Value::as_object_mut) {
                r.remove("comment");
                if r.contains_key("includes") || r.contains_key("excludes") {
                    warnings.push("conditional rules (includes/excludes) kept as written: resolve the profile first".into());
                    r.remove("includes");
                    r.remove("excludes");
                }
            }
        }
    }
    let cr = json!({
        "apiVersion": API_VERSION,
        "kind": "SeccompProfile",
        "metadata": metadata(name, namespace),
        "spec": spec,
    });
    (cr, warnings)
}

/// An AppArmorProfile (SPO's abstract form) from a recording's file, network and capability facts.
pub fn apparmor_profile(name: &str, namespace: Option<&str>, rec: &Recording) -> Value {
    let mut executables = BTreeSet::new();
    let mut libraries = BTreeSet::new();
    let (mut ro, mut rw, mut wo) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for (path, acc) in &rec.files {
        let read = acc.contains(READ) || acc.contains(READDIR);
        let write = acc.contains(WRITE) || acc.contains(CREATE) || acc.contains(REMOVE);
        if acc.contains(EXEC) {
            executables.insert(path.clone());
        } else if path.contains(".so") && (path.starts_with("/lib") || path.starts_with("/usr/lib"))
        {
            libraries.insert(path.clone());
        } else if read && write {
            rw.insert(path.clone());
        } else if write {
            wo.insert(path.clone());
        } else if read {
            ro.insert(if acc.contains(READDIR) {
                format!("{}/", path.trim_end_matches('/'))
            } else {
                path.clone()
            });
        }
    }
    let text = apparmor::profile(rec);
    let caps: Vec<String> = text
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("capability ")?
                .strip_suffix(',')
                .map(str::to_string)
        })
        .collect();
    let net: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("network ")?.strip_suffix(','))
        .collect();
    let mut abstract_ = json!({
        "executable": { "allowedExecutables": executables, "allowedLibraries": libraries },
        "filesystem": { "readOnlyPaths": ro, "readWritePaths": rw, "writeOnlyPaths": wo },
        "network": {
            "allowRaw": net.iter().any(|n| n.ends_with(" raw")),
            "allowedProtocols": {
                "allowTcp": net.iter().any(|n| n.starts_with("inet") && n.ends_with(" stream")),
                "allowUdp": net.iter().any(|n| n.starts_with("inet") && n.ends_with(" dgram")),
            },
        },
    });
    if !caps.is_empty() {
        abstract_["capability"] = json!({ "allowedCapabilities": caps });
    }
    json!({
        "apiVersion": API_VERSION,
        "kind": "AppArmorProfile",
        "metadata": metadata(name, namespace),
        "spec": { "abstract": abstract_ },
    })
}

/// The container securityContext using these profiles, meeting Pod Security "restricted":
/// non-root, no privilege escalation, every capability dropped, a Localhost seccomp profile
/// (where SPO installs it: operator/<namespace>/<name>.json), a read-only root filesystem.
pub fn security_context(name: &str, namespace: Option<&str>, apparmor: bool) -> Value {
    let ns = namespace.unwrap_or("default");
    let mut sc = json!({
        "runAsNonRoot": true,
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "capabilities": { "drop": ["ALL"] },
        "seccompProfile": { "type": "Localhost", "localhostProfile": format!("operator/{ns}/{name}.json") },
    });
    if apparmor {
        sc["appArmorProfile"] = json!({ "type": "Localhost", "localhostProfile": name });
    }
    json!({ "securityContext": sc })
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        other => other.to_string(),
    }
}

fn key(k: &str) -> String {
    let plain = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    if plain {
        k.to_string()
    } else {
        serde_json::to_string(k).unwrap_or_default()
    }
}

fn emit(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                match val {
                    Value::Object(inner) if !inner.is_empty() => {
                        out.push_str(&format!("{pad}{}:\n", key(k)));
                        emit(val, indent + 2, out);
                    }
                    Value::Array(items) if !items.is_empty() => {
                        out.push_str(&format!("{pad}{}:\n", key(k)));
                        emit(val, indent, out);
                    }
                    Value::Object(_) => out.push_str(&format!("{pad}{}: {{}}\n", key(k))),
                    Value::Array(_) => out.push_str(&format!("{pad}{}: []\n", key(k))),
                    _ => out.push_str(&format!("{pad}{}: {}\n", key(k), scalar(val))),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(m) if !m.is_empty() => {
                        let mut inner = String::new();
                        emit(item, indent + 2, &mut inner);
                        // The first line of the mapping follows the dash.
                        out.push_str(&format!("{pad}- {}", &inner[indent + 2..]));
                    }
                    Value::Array(_) => {
                        out.push_str(&format!("{pad}-\n"));
                        emit(item, indent + 2, out);
                    }
                    _ => out.push_str(&format!("{pad}- {}\n", scalar(item))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

/// YAML for one document.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    emit(v, 0, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_emitter_round_trips_through_a_yaml_parser_shape() {
        let v = json!({"a": {"b": [1, "x: y", {"c": true, "d": []}], "e": {}}, "f g": "h"});
        let y = to_yaml(&v);
        assert_eq!(
            y,
            "a:\n  b:\n  - 1\n  - \"x: y\"\n  - c: true\n    d: []\n  e: {}\n\"f g\": \"h\"\n"
        );
    }

    #[test]
    fn restricted_security_context() {
        let sc = security_context("web", Some("prod"), true);
        assert_eq!(
            sc["securityContext"]["seccompProfile"]["localhostProfile"],
            "operator/prod/web.json"
        );
        assert_eq!(
            sc["securityContext"]["capabilities"]["drop"],
            json!(["ALL"])
        );
        assert_eq!(sc["securityContext"]["runAsNonRoot"], true);
        assert_eq!(sc["securityContext"]["allowPrivilegeEscalation"], false);
    }
}
