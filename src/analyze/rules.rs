//! What the analysis adds by rule, each with its reason: syscalls no code site shows (the vDSO's
//! fallbacks, the kernel's own), and objects loaded by name at run time (NSS modules, iconv's
//! gconv modules, libgcc_s for unwinding, an interpreter's native modules).

use std::collections::{BTreeMap, BTreeSet};

use super::graph::HashSet;
use super::loader::Root;
use super::{Found, Image, load_by_rule, prefetch};
use crate::model::Abi;
use crate::profile::generate::VDSO_FALLBACKS;

/// Syscalls every program may make without a site in its code: (name, why).
pub fn always(found: &BTreeMap<(Abi, String), Found>) -> Vec<(&'static str, &'static str)> {
    // The vDSO's calls: the names (and reasons) every generated profile allows.
    let mut out: Vec<(&'static str, &'static str)> = VDSO_FALLBACKS
        .iter()
        .map(|(n, why)| (*n, why.strip_prefix("required: ").unwrap_or(why)))
        .collect();
    out.extend([
        (
            "restart_syscall",
            "the kernel restarts an interrupted sleep through it, from no site in the program",
        ),
        (
            "execve",
            "the call that starts the program, made by whoever starts it",
        ),
        ("exit", "a thread's end"),
        ("exit_group", "the program's end"),
    ]);
    if found.contains_key(&(Abi::X86_64, "rt_sigaction".to_string())) {
        out.push((
            "rt_sigreturn",
            "a signal handler can be installed (rt_sigaction is reachable): its return",
        ));
    }
    out
}

/// glibc functions that read `/etc/nsswitch.conf` and load the modules it names.
const NSS_ENTRIES: &[&str] = &[
    "getpwnam",
    "getpwnam_r",
    "getpwuid",
    "getpwuid_r",
    "getpwent",
    "getpwent_r",
    "getgrnam",
    "getgrnam_r",
    "getgrgid",
    "getgrgid_r",
    "getgrent",
    "getgrouplist",
    "initgroups",
    "getspnam",
    "getspnam_r",
    "getaddrinfo",
    "gethostbyname",
    "gethostbyname2",
    "gethostbyname_r",
    "gethostbyname2_r",
    "gethostbyaddr",
    "gethostbyaddr_r",
    "getnameinfo",
    "getservbyname",
    "getservbyname_r",
    "getservbyport",
    "getservbyport_r",
    "getprotobyname",
    "getprotobyname_r",
    "getprotobynumber",
    "getnetgrent",
    "innetgr",
    "getlogin",
    "getlogin_r",
    "getpw",
    "cuserid",
];

/// The objects rules load for what reachable code imports: (rule, libraries).
pub fn by_imports(root: &Root, imports: &HashSet<String>) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    if let Some(f) = NSS_ENTRIES.iter().find(|f| imports.contains(**f)) {
        let conf = root
            .host("/etc/nsswitch.conf")
            .and_then(|p| super::rootfile::read(&p, super::rootfile::MAX_CONFIG).ok())
            .unwrap_or_default();
        let conf = String::from_utf8_lossy(&conf);
        let mut services: BTreeSet<String> = BTreeSet::new();
        for line in conf.lines() {
            let line = line.split('#').next().unwrap_or("");
            if let Some((_, rest)) = line.split_once(':') {
                for w in rest.split_whitespace() {
                    if !w.starts_with('[')
                        && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        services.insert(w.to_string());
                    }
                }
            }
        }
        out.push((
            format!("NSS ({f} is reachable; modules named by /etc/nsswitch.conf)"),
            services
                .iter()
                .map(|s| format!("libnss_{s}.so.2"))
                .collect(),
        ));
    }
    if imports.contains("iconv_open") {
        let dir = "/usr/lib/x86_64-linux-gnu/gconv";
        out.push((
            "iconv (iconv_open is reachable; every gconv module)".to_string(),
            modules_under(root, dir, 1),
        ));
    }
    if imports.contains("pthread_cancel") || imports.contains("pthread_exit") {
        out.push((
            "libgcc_s (glibc loads it to unwind a cancelled or exiting thread)".to_string(),
            vec!["libgcc_s.so.1".to_string()],
        ));
    }
    out
}

/// A shared library's file name (or a path ending in one): `libx.so`, `libx.so.1.2`,
/// `mod.cpython-311-x86_64-linux-gnu.so`.
pub fn is_library_name(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.ends_with(".so") || name.contains(".so.")
}

/// Every `*.so` file under `dir` (in the root), `depth` directory levels deep.
pub(super) fn modules_under(root: &Root, dir: &str, depth: usize) -> Vec<String> {
    let mut out = Vec::new();
    let Some(host) = root.host(dir) else {
        return out;
    };
    let Ok(entries) = std::fs::read_dir(&host) else {
        return out;
    };
    let mut names: Vec<_> = entries.flatten().collect();
    names.sort_by_key(|e| e.file_name());
    for e in names {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = format!("{}/{name}", dir.trim_end_matches('/'));
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() && depth > 1 {
            out.extend(modules_under(root, &path, depth - 1));
        } else if t.is_file() && is_library_name(&name) {
            out.push(path);
        }
    }
    out
}

/// An interpreter loads its native modules by computed names: every module under its module
/// directories in the root is loaded (python: lib-dynload and dist-packages; perl: its auto
/// directories).
pub(super) fn interpreter_modules(root: &Root, img: &mut Image, program: &str) {
    let base = program.rsplit('/').next().unwrap_or(program);
    let mut dirs: Vec<(String, usize)> = Vec::new();
    if base.starts_with("python3") {
        let Some(lib) = root.host("/usr/lib") else {
            return;
        };
        let mut versions: Vec<String> = std::fs::read_dir(lib)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("python3."))
            .collect();
        versions.sort();
        for v in versions {
            dirs.push((format!("/usr/lib/{v}/lib-dynload"), 1));
            dirs.push((format!("/usr/local/lib/{v}/dist-packages"), 6));
        }
        dirs.push(("/usr/lib/python3/dist-packages".into(), 6));
    } else if base.starts_with("perl") {
        dirs.push(("/usr/lib/x86_64-linux-gnu/perl-base/auto".into(), 6));
        dirs.push(("/usr/lib/x86_64-linux-gnu/perl5".into(), 8));
        dirs.push(("/usr/lib/x86_64-linux-gnu/perl".into(), 8));
    }
    // Java: the launcher's libjli.so loads JAVA_HOME/lib/server/libjvm.so, and the JVM loads
    // its native libraries (libjava, libnio, libnet, ...) from JAVA_HOME/lib by name.
    let jli = img
        .objs
        .iter()
        .find(|o| o.path.ends_with("/lib/libjli.so"))
        .map(|o| o.path.clone());
    let mut rule = format!("{base}'s native modules (loaded by computed names)");
    let mut covers: Vec<String> = Vec::new();
    if let Some(jli) = &jli {
        let lib = jli.trim_end_matches("/libjli.so");
        // libjvm.so first: the other libraries need it.
        dirs.push((format!("{lib}/server"), 1));
        dirs.push((lib.to_string(), 1));
        rule = format!("the JVM's native libraries under {lib} (loaded by computed names)");
        covers.push(jli.clone());
        covers.push(format!("{lib}/server/libjvm.so"));
    } else if !dirs.is_empty() {
        // The interpreter's own import machinery: in the program, or its libperl/libpython.
        covers.push(program.to_string());
        covers.extend(
            img.objs
                .iter()
                .filter(|o| {
                    let n = o.path.rsplit('/').next().unwrap_or("");
                    n.starts_with("libperl.so") || n.starts_with("libpython3")
                })
                .map(|o| o.path.clone()),
        );
    }
    let modules: Vec<String> = dirs
        .iter()
        .flat_map(|(d, depth)| modules_under(root, d, *depth))
        .collect();
    prefetch(root, img, modules.iter().map(|m| (m.as_str(), program)));
    for m in &modules {
        load_by_rule(root, img, m, program, &rule);
    }
    for c in covers {
        img.covered.push((c, rule.clone()));
    }
}
