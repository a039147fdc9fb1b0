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
    let mut meta = metadata(name, namespace);
    if let Some(obj) = spec.as_object_mut() {
        // The schema has no place for it; an annotation keeps it beside the profile.
        if let Some(c) = obj.remove("comment") {
            meta["annotations"] = json!({ "syscage.dev/comment": c });
        }
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
        "metadata": meta,
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
/// non-root, no privilege escalation, every capability dropped, the Localhost seccomp profile
/// at `localhost` (`localhost_profile` gives where SPO installs it), a read-only root
/// filesystem. The Pod, the security-context file and the comment all use this one path.
pub fn security_context(name: &str, localhost: &str, apparmor: bool) -> Value {
    let mut sc = json!({
        "runAsNonRoot": true,
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "capabilities": { "drop": ["ALL"] },
        "seccompProfile": { "type": "Localhost", "localhostProfile": localhost },
    });
    if apparmor {
        sc["appArmorProfile"] = json!({ "type": "Localhost", "localhostProfile": name });
    }
    json!({ "securityContext": sc })
}

/// The Localhost profile path of `name`: where the Security Profiles Operator installs it
/// beneath the kubelet's seccomp root (`/var/lib/kubelet/seccomp`).
pub fn localhost_profile(name: &str, namespace: Option<&str>) -> String {
    format!("operator/{}/{name}.json", namespace.unwrap_or("default"))
}

/// What a Pod manifest runs.
#[derive(Debug, Clone)]
pub struct PodSpec<'a> {
    pub image: &'a str,
    /// The Localhost profile's path beneath the node's seccomp root.
    pub localhost_profile: &'a str,
    pub command: &'a [String],
    pub run_as_user: u32,
    pub restart_policy: Option<&'a str>,
    pub apparmor: bool,
}

/// A Pod running one container named `name` under the restricted securityContext with the
/// Localhost profile. The same profile is also named by the older per-container annotations,
/// which `podman kube play` (4.x) and pre-1.19 kubelets read; Kubernetes checks that they agree
/// with the fields.
pub fn pod(name: &str, namespace: Option<&str>, spec: &PodSpec) -> Value {
    let mut sc =
        security_context(name, spec.localhost_profile, spec.apparmor)["securityContext"].clone();
    sc["runAsUser"] = json!(spec.run_as_user);
    let mut container = json!({ "name": name, "image": spec.image });
    if !spec.command.is_empty() {
        container["command"] = json!(spec.command);
    }
    container["securityContext"] = sc;
    let mut meta = metadata(name, namespace);
    let mut ann = json!({
        format!("container.seccomp.security.alpha.kubernetes.io/{name}"):
            format!("localhost/{}", spec.localhost_profile),
    });
    if spec.apparmor {
        ann[format!("container.apparmor.security.beta.kubernetes.io/{name}")] =
            json!(format!("localhost/{name}"));
    }
    meta["annotations"] = ann;
    let mut pod_spec = json!({ "containers": [container] });
    if let Some(r) = spec.restart_policy {
        pod_spec["restartPolicy"] = json!(r);
    }
    json!({ "apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec })
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
    fn a_profile_comment_becomes_an_annotation_not_a_spec_field() {
        let mut p: SeccompProfile =
            serde_json::from_str(r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[]}"#).unwrap();
        p.comment = Some("attached at T".into());
        let (cr, warnings) = seccomp_profile("web", None, &p);
        assert!(cr["spec"].get("comment").is_none(), "{cr}");
        assert_eq!(
            cr["metadata"]["annotations"]["syscage.dev/comment"],
            "attached at T"
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn pod_with_the_profile_in_fields_and_annotations() {
        let cmd = vec!["/app".to_string(), "--serve".to_string()];
        let p = pod(
            "web",
            Some("prod"),
            &PodSpec {
                image: "example.com/web:1",
                localhost_profile: &localhost_profile("web", Some("prod")),
                command: &cmd,
                run_as_user: 1000,
                restart_policy: Some("Never"),
                apparmor: false,
            },
        );
        let c = &p["spec"]["containers"][0];
        assert_eq!(c["image"], "example.com/web:1");
        assert_eq!(c["command"], json!(["/app", "--serve"]));
        assert_eq!(c["securityContext"]["runAsUser"], 1000);
        assert_eq!(
            c["securityContext"]["seccompProfile"]["localhostProfile"],
            "operator/prod/web.json"
        );
        assert_eq!(
            p["metadata"]["annotations"]["container.seccomp.security.alpha.kubernetes.io/web"],
            "localhost/operator/prod/web.json"
        );
        assert_eq!(p["spec"]["restartPolicy"], "Never");
        assert!(to_yaml(&p).contains("kind: \"Pod\""));
    }

    #[test]
    fn restricted_security_context() {
        let sc = security_context("web", &localhost_profile("web", Some("prod")), true);
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
