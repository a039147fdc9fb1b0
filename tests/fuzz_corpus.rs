//! Replays the fuzzing corpus (fuzz/corpus, grown by `make fuzz` with cargo fuzz) through the
//! same code the fuzz targets exercise, so every `make test` checks that no input in it panics.

use std::path::{Path, PathBuf};

use syscage::model::Recording;
use syscage::profile::seccomp::{Target, parse, resolve};
use syscage::profile::{apparmor, generate, landlock, lint, merge, report};

#[path = "../fuzz/shared/arch_round_trip.rs"]
mod arch_round_trip;

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(
        files.len() >= 50,
        "{} has only {} inputs",
        dir.display(),
        files.len()
    );
    files
}

#[test]
fn seccomp_profiles() {
    let mut parsed = 0;
    for f in corpus("seccomp_profile") {
        let data = std::fs::read(&f).unwrap();
        let path = Path::new("fuzz.json");
        if let Ok((p, _)) = parse(&data, path) {
            parsed += 1;
            for caps in [vec![], vec!["CAP_SYS_ADMIN".to_string()]] {
                let t = Target {
                    arch: oci_spec::runtime::Arch::ScmpArchX86_64,
                    caps: caps.into_iter().collect(),
                    kernel: (6, 18),
                };
                if let Ok(r) = resolve(&p, &t, path) {
                    let _ = lint::lint(&r, t.arch);
                    let _ = r.to_oci();
                }
            }
            arch_round_trip::translate_all(&p);
            let _ = merge::merge(&[("a".into(), p.clone()), ("b".into(), p)]);
        }
    }
    assert!(parsed > 0, "some corpus inputs must be valid profiles");
}

#[test]
fn recordings() {
    let base = generate::base_for("any").unwrap();
    for f in corpus("recording") {
        let data = std::fs::read(&f).unwrap();
        if let Ok(rec) = Recording::parse(&data, Path::new("fuzz.rec")) {
            let merged = rec.clone().merge(rec);
            let _ = generate::seccomp_profile_with(&merged, &base, true);
            let _ = apparmor::profile(&merged);
            let _ = landlock::from_recording(&merged);
            let _ = report::render(&merged);
        }
    }
}

#[test]
fn landlock_rulesets() {
    for f in corpus("landlock_ruleset") {
        let data = std::fs::read(&f).unwrap();
        if let Ok(r) = landlock::parse(&data, Path::new("fuzz.json")) {
            let _ = landlock::to_json(&r);
        }
    }
}

#[test]
fn hook_states() {
    use std::path::Component;
    let dir = Path::new("/var/lib/syscage");
    let confined = |p: &Path| {
        assert!(
            p.is_relative() && p.components().all(|c| matches!(c, Component::Normal(_))),
            "{p:?}"
        )
    };
    let mut requests = 0;
    for f in corpus("hook_state") {
        let data = std::fs::read(&f).unwrap();
        if let Ok(state) = syscage::hook::parse_state(&data) {
            let ann = state.annotations().clone().unwrap_or_default();
            if let Ok(Some(req)) = syscage::hook::request::request(&ann, dir) {
                requests += 1;
                req.outputs().for_each(confined);
            }
        }
        if let Ok(s) = std::str::from_utf8(&data)
            && let Ok(p) = syscage::hook::request::confine("k", s, dir)
        {
            confined(&p);
        }
    }
    assert!(requests > 0, "some corpus inputs must be accepted requests");
}

#[test]
fn agent_requests() {
    use std::path::Component;
    let dir = Path::new("/var/lib/syscage/learn");
    let mut accepted = 0;
    for f in corpus("agent_request") {
        let data = std::fs::read(&f).unwrap();
        let nfds = data.first().map_or(0, |b| usize::from(b % 4));
        if let Ok(r) = syscage::agent::request::parse(data.get(1..).unwrap_or_default(), nfds, dir)
        {
            accepted += 1;
            assert!(r.fd_index < nfds);
            assert!(
                r.delta
                    .components()
                    .all(|c| matches!(c, Component::Normal(_)))
            );
        }
        if let Ok(s) = std::str::from_utf8(&data)
            && let Ok(m) = syscage::profile::watch::Metadata::parse(s)
        {
            assert_eq!(syscage::profile::watch::Metadata::parse(&m.encode()), Ok(m));
        }
    }
    assert!(accepted > 0, "some corpus inputs must be accepted requests");
}

/// The analysis front end (`fuzz/fuzz_targets/analyze_elf.rs`): ELF files, broken ones
/// included, never panic.
#[test]
fn elf_objects_for_the_analysis() {
    let mut analysed = 0;
    for f in corpus("analyze_elf") {
        let data = std::fs::read(&f).unwrap();
        if syscage::analyze::analyze_bytes(&data).is_ok() {
            analysed += 1;
        }
    }
    assert!(analysed > 0, "some corpus inputs must be valid objects");
}

#[test]
fn analysis_cache_entries() {
    for f in corpus("analysis_cache") {
        let data = std::fs::read(&f).unwrap();
        if let Some(facts) = syscage::analyze::cache::decode_facts(&data) {
            let again = syscage::analyze::cache::decode_facts(
                &syscage::analyze::cache::encode_body(&facts),
            )
            .expect("what decodes, encodes and decodes again");
            assert_eq!(
                format!("{facts:?}"),
                format!("{again:?}"),
                "{}",
                f.display()
            );
        }
    }
}

#[test]
fn engine_answers() {
    use syscage::tracer::engines::{ENGINES, parse_answer};
    let mut pids = 0;
    for f in corpus("engine_answer") {
        let data = std::fs::read(&f).unwrap();
        let Some((first, rest)) = data.split_first() else {
            continue;
        };
        let engine = ENGINES[*first as usize % ENGINES.len()];
        let text = String::from_utf8_lossy(rest);
        if let Ok(Some(pid)) = parse_answer(engine, "web", &text) {
            pids += 1;
            assert!(
                pid > 0 && pid <= 1 << 22 && text.contains(&pid.to_string()),
                "{}: {engine} pid {pid} from {text:?}",
                f.display()
            );
        }
    }
    assert!(pids > 0, "no input in the corpus names a running container");
}
