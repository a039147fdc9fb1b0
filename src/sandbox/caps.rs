//! Capabilities: parse `--cap-add` names (Docker's spelling, `SETUID` or `CAP_SETUID`, or `ALL`)
//! and drop every set, bounding included, to what was asked for.

use std::collections::BTreeSet;
use std::str::FromStr;

use super::SandboxError;
use super::sys;

/// The capabilities a workload keeps: a bit mask by capability number and the `CAP_*` names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeptCaps {
    pub mask: u64,
    pub names: BTreeSet<String>,
}

/// The highest capability number this kernel knows (`caps::all()` is a fixed list, the kernel's
/// may be longer).
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
        .min(63)
}

pub fn parse(names: &[String]) -> Result<KeptCaps, SandboxError> {
    let mut kept = KeptCaps::default();
    for raw in names {
        let name = crate::profile::seccomp::cap_name(raw);
        if name == "CAP_ALL" {
            for c in caps::all() {
                kept.mask |= 1 << c.index();
                kept.names.insert(c.to_string());
            }
            continue;
        }
        let cap = caps::Capability::from_str(&name)
            .map_err(|_| SandboxError::Message(format!("--cap-add {raw}: unknown capability")))?;
        kept.mask |= 1 << cap.index();
        kept.names.insert(cap.to_string());
    }
    Ok(kept)
}

pub fn describe(kept: &KeptCaps) -> String {
    if kept.names.is_empty() {
        "none (effective, permitted, inheritable, ambient and bounding sets empty)".into()
    } else {
        format!(
            "only {} (all other capabilities dropped from every set)",
            kept.names.iter().cloned().collect::<Vec<_>>().join(", ")
        )
    }
}

fn permitted_mask() -> u64 {
    caps::read(None, caps::CapSet::Permitted)
        .map(|set| set.iter().fold(0u64, |m, c| m | (1 << c.index())))
        .unwrap_or(0)
}

/// Empties the bounding set but for `kept` (needs CAP_SETPCAP). It is inherited, so the init
/// does this once for itself and the workload. Returns what could not be done: without a user
/// namespace an unprivileged caller cannot shrink its bounding set, which is harmless only because
/// it holds nothing and no_new_privs stops exec from gaining anything.
pub fn drop_bounding(kept: u64, last: u32) -> Vec<String> {
    let left: Vec<std::io::Error> = (0..=last)
        .filter(|cap| kept & (1 << cap) == 0)
        .filter_map(|cap| match sys::drop_bounding_cap(cap) {
            // Refused: it only matters if the capability is still there.
            Err(e) if sys::bounding_has(cap).unwrap_or(false) => Some(e),
            _ => None,
        })
        .collect();
    match left.first() {
        None => Vec::new(),
        Some(e) => vec![format!(
            "emptying the bounding set ({} capabilities left: {e})",
            left.len()
        )],
    }
}

/// Sets effective = permitted = `kept` (as far as permitted allows) and clears the ambient
/// set; with `ambient` (a non-root workload, which loses every other set at exec), `kept` also
/// goes to the inheritable and ambient sets, otherwise inheritable is emptied.
pub fn drop_to(kept: u64, ambient: bool) -> Result<(), SandboxError> {
    sys::clear_ambient_caps().map_err(|source| SandboxError::Step {
        step: "clearing the ambient capability set".into(),
        source,
    })?;
    let keep = kept & permitted_mask();
    let inheritable = if ambient { keep } else { 0 };
    sys::set_capabilities(keep, keep, inheritable).map_err(|source| SandboxError::Step {
        step: "setting the effective, permitted and inheritable capability sets".into(),
        source,
    })?;
    if ambient {
        for cap in (0..64).filter(|c| keep & (1 << c) != 0) {
            sys::raise_ambient_cap(cap).map_err(|source| SandboxError::Step {
                step: format!("raising capability {cap} in the ambient set"),
                source,
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_spellings() {
        let k = parse(&["SETUID".into(), "cap_net_raw".into(), "CAP_CHOWN".into()]).unwrap();
        assert_eq!(k.mask, (1 << 7) | (1 << 13) | 1);
        assert!(k.names.contains("CAP_NET_RAW"));
        let err = parse(&["FLY".into()]).unwrap_err().to_string();
        assert!(err.contains("--cap-add FLY"), "{err}");
        assert!(parse(&["ALL".into()]).unwrap().mask.count_ones() >= 40);
    }
}
