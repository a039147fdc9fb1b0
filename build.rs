//! Builds the eBPF recorder (feature "ebpf") with clang: a CO-RE object that loads on any
//! kernel with BTF, so users need no compiler or kernel headers at run time. Compiles the
//! sandbox init's own seccomp filter with libseccomp (`src/sandbox/init_filter.rs`).

use std::path::PathBuf;
use std::process::Command;

mod init_calls {
    include!("src/sandbox/init_calls.rs");
}

/// The init's filter: the listed calls allowed, everything else EPERM, for the target's ABI.
fn init_filter(out_dir: &std::path::Path) {
    use libseccomp::{ScmpAction, ScmpArch, ScmpFilterContext, ScmpSyscall};
    println!("cargo:rerun-if-changed=src/sandbox/init_calls.rs");
    let arch = match std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("x86_64") => ScmpArch::X8664,
        Ok("aarch64") => ScmpArch::Aarch64,
        Ok(other) => panic!("the sandbox init's filter: no seccomp arch for target {other}"),
        Err(_) => ScmpArch::native(),
    };
    let fail = |what: &str, e: libseccomp::error::SeccompError| -> ! {
        panic!("compiling the sandbox init's filter: {what}: {e} (libseccomp-dev installed?)")
    };
    let mut ctx = ScmpFilterContext::new(ScmpAction::Errno(libc_eperm()))
        .unwrap_or_else(|e| fail("creating it", e));
    ctx.set_ctl_nnp(false).unwrap_or_else(|e| fail("nnp", e));
    if arch != ScmpArch::native() {
        ctx.add_arch(arch)
            .unwrap_or_else(|e| fail("adding the arch", e));
        ctx.remove_arch(ScmpArch::native())
            .unwrap_or_else(|e| fail("removing the host arch", e));
    }
    for name in init_calls::INIT_CALLS {
        let sys = ScmpSyscall::from_name_by_arch(name, arch).unwrap_or_else(|e| fail(name, e));
        ctx.add_rule(ScmpAction::Allow, sys)
            .unwrap_or_else(|e| fail(name, e));
    }
    let path = out_dir.join("init_filter.bpf");
    let file =
        std::fs::File::create(&path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
    ctx.export_bpf(&file)
        .unwrap_or_else(|e| fail("exporting", e));
}

/// EPERM (1 on every Linux arch).
fn libc_eperm() -> i32 {
    1
}

/// A key for the analysis code (`src/analyze/*.rs` and the locked dependency versions): facts
/// cached by a syscage whose analysis differs are never read (`src/analyze/cache.rs`).
fn analysis_key() {
    let mut files: Vec<PathBuf> = std::fs::read_dir("src/analyze")
        .expect("src/analyze")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    files.push(PathBuf::from("Cargo.lock"));
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        for b in std::fs::read(f).unwrap_or_default() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    println!("cargo:rerun-if-changed=src/analyze");
    println!("cargo:rustc-env=SYSCAGE_ANALYSIS_KEY={h:016x}");
}

/// The musl build: what Debian's glibc-compiled libseccomp.a needs beyond musl
/// (`src/musl/fprintf_chk.c`), as a static library of its own.
fn musl_shim(out_dir: &std::path::Path) {
    println!("cargo:rerun-if-changed=src/musl/fprintf_chk.c");
    if std::env::var("CARGO_CFG_TARGET_ENV").as_deref() != Ok("musl") {
        return;
    }
    let obj = out_dir.join("fprintf_chk.o");
    let lib = out_dir.join("libsyscage_musl_shim.a");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let run = |cmd: &mut Command, what: &str| {
        let ok = cmd.status().map(|s| s.success()).unwrap_or(false);
        assert!(
            ok,
            "building the musl shim: {what} failed (a C compiler and ar are needed)"
        );
    };
    run(
        Command::new(&cc)
            .args([
                "-O2",
                "-fPIC",
                "-fno-stack-protector",
                "-U_FORTIFY_SOURCE",
                "-c",
            ])
            .arg("src/musl/fprintf_chk.c")
            .arg("-o")
            .arg(&obj),
        &cc,
    );
    let _ = std::fs::remove_file(&lib);
    run(Command::new("ar").arg("rcs").arg(&lib).arg(&obj), "ar");
    println!("cargo:rustc-link-search=native={}", out_dir.display());
    // Whole: nothing of ours calls it, libseccomp (linked after us) does.
    println!("cargo:rustc-link-lib=static:+whole-archive=syscage_musl_shim");
}

fn main() {
    analysis_key();
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    musl_shim(&out_dir);
    init_filter(&out_dir);
    println!("cargo:rerun-if-changed=src/tracer/ebpf/recorder.bpf.c");
    println!("cargo:rerun-if-changed=src/tracer/ebpf/kernel_types.h");
    println!("cargo:rerun-if-env-changed=CLANG");
    if std::env::var_os("CARGO_FEATURE_EBPF").is_none() {
        return;
    }
    let out = out_dir.join("recorder.bpf.o");
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".into());
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let (target_arch, multiarch) = match arch.as_str() {
        "x86_64" => ("x86", "x86_64-linux-gnu"),
        other => panic!(
            "the eBPF recorder supports x86_64 only (target {other}): build with --no-default-features"
        ),
    };
    let status = Command::new(&clang)
        .args(["-O2", "-g", "-target", "bpf", "-Wall", "-Werror"])
        .arg(format!("-D__TARGET_ARCH_{target_arch}"))
        .arg(format!("-I/usr/include/{multiarch}"))
        .args(["-c", "src/tracer/ebpf/recorder.bpf.c", "-o"])
        .arg(&out)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "running {clang}: {e}. The eBPF recorder needs clang and libbpf-dev to build \
                 (scripts/install-deps.sh build installs them), or build without it: \
                 cargo build --no-default-features"
            )
        });
    assert!(
        status.success(),
        "{clang} could not build src/tracer/ebpf/recorder.bpf.c (is libbpf-dev installed?)"
    );
}
