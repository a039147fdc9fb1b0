//! Builds the eBPF recorder (feature "ebpf") with clang: a CO-RE object that loads on any
//! kernel with BTF, so users need no compiler or kernel headers at run time.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=src/tracer/ebpf/recorder.bpf.c");
    println!("cargo:rerun-if-changed=src/tracer/ebpf/kernel_types.h");
    println!("cargo:rerun-if-env-changed=CLANG");
    if std::env::var_os("CARGO_FEATURE_EBPF").is_none() {
        return;
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("recorder.bpf.o");
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
