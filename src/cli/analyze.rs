//! `syscage analyze`: the syscalls a program's code can reach, from its ELF files.

use std::path::PathBuf;

use clap::Args;

use crate::analyze::{self, Analysis, Options};
use crate::error::Error;
use crate::exit;
use crate::output;
use crate::profile::generate;

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The filesystem the programs live in: an unpacked image or a bundle's rootfs (default /).
    /// Paths, symlinks, the loader's cache and default directories are the root's own.
    #[arg(long, value_name = "DIR", conflicts_with = "bundle")]
    pub root: Option<PathBuf>,
    /// An OCI bundle: its config.json's root.path is the root and process.args[0] the program.
    #[arg(long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
    /// Write a seccomp profile allowing what is reachable.
    #[arg(short = 'o', long = "output", value_name = "PROFILE.json")]
    pub output: Option<PathBuf>,
    /// Write the result as a recording (`record --recording`'s format) for report, merge,
    /// check and generate.
    #[arg(long, value_name = "FILE")]
    pub recording: Option<PathBuf>,
    /// Print one shortest path from an entry point to a site of syscall NAME.
    #[arg(long, value_name = "NAME")]
    pub explain: Vec<String>,
    /// A library the program loads by a name the analysis cannot see (dlopen of a computed
    /// name): analysed with every export reachable.
    #[arg(long, value_name = "LIB")]
    pub dlopen: Vec<String>,
    /// Add the shared libraries recording FILE saw opened (`record --recording`): what a
    /// program loads by computed names (plugins), learned from a run.
    #[arg(long, value_name = "FILE")]
    pub libraries_from: Vec<PathBuf>,
    /// Neither read nor write the per-object cache (SYSCAGE_CACHE_DIR, else
    /// $XDG_CACHE_HOME/syscage/analyze, else ~/.cache/syscage/analyze).
    #[arg(long)]
    pub no_cache: bool,
    /// The runtime that will enforce the profile: its own post-filter syscalls are added.
    #[arg(long, value_name = "syscage|crun|runc|any", default_value = "any")]
    pub runtime: String,
    /// The programs (paths in the root, or names looked up in its PATH).
    #[arg(value_name = "PROGRAM")]
    pub programs: Vec<String>,
}

pub fn run(a: AnalyzeArgs) -> Result<i32, Error> {
    let base = super::record::runtime_base(&a.runtime)?;
    for out in [&a.output, &a.recording].into_iter().flatten() {
        output::check_writable(out)?;
    }
    let (root, mut programs) = match &a.bundle {
        Some(b) => bundle(b)?,
        None => (
            a.root.clone().unwrap_or_else(analyze::host_root),
            Vec::new(),
        ),
    };
    // On the host, `./app` means what a shell means by it; in an image, paths are the image's.
    let host = a.root.is_none() && a.bundle.is_none();
    programs.extend(a.programs.iter().map(|p| {
        if host {
            analyze::host_program(p)
        } else {
            p.clone()
        }
    }));
    if programs.is_empty() {
        match &a.root {
            // A whole image: every executable it holds, one profile for the container.
            Some(r) => {
                programs = analyze::executables_in(r);
                if programs.is_empty() {
                    return Err(Error::Input(format!(
                        "--root {}: no ELF executable in its bin and sbin directories",
                        r.display()
                    )));
                }
                eprintln!(
                    "syscage: analysing the {} executable{} of {}",
                    programs.len(),
                    if programs.len() == 1 { "" } else { "s" },
                    r.display()
                );
            }
            None => {
                return Err(Error::Usage(
                    "analyze: name a PROGRAM (or --root DIR for every executable of an image, or --bundle B)".into(),
                ));
            }
        }
    }
    let mut preload = Vec::new();
    for f in &a.libraries_from {
        let rec = super::profiles::read_recording(f)?;
        for lib in rec
            .files
            .keys()
            .filter(|p| analyze::rules::is_library_name(p))
        {
            preload.push((lib.clone(), format!("--libraries-from {}", f.display())));
        }
    }
    let opts = Options {
        root,
        programs,
        dlopen: a.dlopen.clone(),
        explain: a.explain.clone(),
        cache: !a.no_cache,
        preload,
    };
    let result = analyze::analyze(&opts).map_err(|e| Error::Input(e.to_string()))?;
    let rec = result.to_recording();
    if let Some(o) = &a.output {
        let (profile, _) = generate::seccomp_profile(&rec, &base);
        output::write_atomic(o, generate::to_json(&profile).as_bytes())?;
    }
    if let Some(r) = &a.recording {
        output::write_atomic(r, rec.to_json().as_bytes())?;
    }
    eprint!("{}", summary(&result));
    for e in &result.explained {
        println!("{e}");
    }
    Ok(if result.is_complete() {
        0
    } else {
        exit::ANALYSIS_INCOMPLETE
    })
}

/// The root and program of an OCI bundle.
fn bundle(b: &std::path::Path) -> Result<(PathBuf, Vec<String>), Error> {
    let path = b.join("config.json");
    // A bundle may be someone else's: its config.json a FIFO or a device (see `rootfile`).
    let text = analyze::rootfile::read(&path, 16 << 20).map_err(|e| Error::Input(e.to_string()))?;
    let v: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
    let root = v["root"]["path"]
        .as_str()
        .ok_or_else(|| Error::Input(format!("{}: no root.path", path.display())))?;
    let prog = v["process"]["args"][0]
        .as_str()
        .ok_or_else(|| Error::Input(format!("{}: no process.args[0]", path.display())))?;
    let root = if root.starts_with('/') {
        PathBuf::from(root)
    } else {
        b.join(root)
    };
    Ok((root, vec![prog.to_string()]))
}

fn summary(r: &Analysis) -> String {
    let mut s = String::new();
    for n in &r.notes {
        s.push_str(&format!("syscage: {n}\n"));
    }
    let x64 = r
        .syscalls
        .keys()
        .filter(|(abi, _)| *abi == crate::model::Abi::X86_64)
        .count();
    let other = r.syscalls.len() - x64;
    s.push_str(&format!(
        "syscage: {} reachable syscalls: {} x86_64 with a site in the code{}, {} more by rule; {} of {} functions reachable in {} objects\n",
        r.syscalls.len() + r.added.len(),
        x64,
        if other > 0 {
            format!(", {other} i386 through int 0x80")
        } else {
            String::new()
        },
        r.added.len(),
        r.reachable,
        r.functions,
        r.objects.len()
    ));
    let mut per_object: std::collections::BTreeMap<&str, usize> = Default::default();
    for f in r.syscalls.values() {
        for o in &f.objects {
            *per_object.entry(o.as_str()).or_default() += 1;
        }
    }
    for (o, n) in per_object {
        s.push_str(&format!("  {o}: sites of {n}\n"));
    }
    for (name, why) in &r.added {
        s.push_str(&format!("  + {name}: {why}\n"));
    }
    let mut by_rule: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (o, rule) in &r.loaded_by_rule {
        by_rule.entry(rule.as_str()).or_default().push(o.as_str());
    }
    for (rule, objs) in by_rule {
        let shown: Vec<&str> = objs.iter().take(3).copied().collect();
        s.push_str(&format!(
            "  loaded by rule, {rule}: {}{}\n",
            shown.join(", "),
            if objs.len() > 3 {
                format!(" and {} more", objs.len() - 3)
            } else {
                String::new()
            }
        ));
    }
    if r.is_complete() {
        s.push_str("syscage: complete: every reachable syscall site's number is known\n");
    } else {
        for i in &r.incomplete {
            s.push_str(&format!("syscage: incomplete: {i}\n"));
        }
    }
    s
}
