//! `syscage analyze` (issue 15): soundness against what `record` sees on real programs,
//! precision on programs whose syscalls are known exactly, and bad input.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// Runs syscage; analyses of large programs (python with every module) take a while in the
/// debug build beside the rest of the suite: ten minutes, not the usual 90 s.
fn syscage_args(args: &[&str]) -> Out {
    syscage_with(syscage_cmd(), args)
}

/// As `syscage_args`, from a command already given its environment.
fn syscage_with(mut c: Command, args: &[&str]) -> Out {
    c.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    finish_within(
        c.spawn().expect("spawn"),
        std::time::Duration::from_secs(600),
    )
}

/// Analyses `programs` into a recording in `dir`; returns (its (abi, name) pairs, the run).
fn analyze(
    dir: &Path,
    tag: &str,
    extra: &[&str],
    programs: &[&str],
) -> (BTreeSet<(String, String)>, Out) {
    let rec = dir.join(format!("{tag}.analysis"));
    let mut args = vec!["analyze", "--recording", rec.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend_from_slice(programs);
    let out = syscage_args(&args);
    out.assert_no_panic();
    assert!(
        out.code == 0 || out.code == 3,
        "analyze {programs:?}: exit {}: {}",
        out.code,
        out.stderr
    );
    (recorded_names(&rec), out)
}

/// The flags of a program with raw syscalls and nothing else (no libc, position-dependent).
const RAW: [&str; 5] = ["-O2", "-static", "-nostdlib", "-fno-pie", "-no-pie"];

/// Writes the profile `analyze -o` makes for `prog` to `NAME.json` in `t`, then runs `prog
/// args` under it: the program really makes what the analysis found.
fn run_under_its_analysis(t: &TempDir, name: &str, prog: &Path, args: &[&str]) -> Out {
    let prof = t.join(&format!("{name}.json"));
    let out = syscage_args(&[
        "analyze",
        "-o",
        prof.to_str().unwrap(),
        prog.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut run = vec![
        "run",
        "--seccomp",
        prof.to_str().unwrap(),
        "--",
        prog.to_str().unwrap(),
    ];
    run.extend_from_slice(args);
    syscage_args(&run)
}

/// The syscalls with a site in the code (not added by rule), by name, x86_64.
fn sited(rec: &Path) -> BTreeSet<String> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(rec).unwrap()).unwrap();
    v["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["abi"] == "x86_64")
        .filter(|s| {
            s["executables"]
                .as_array()
                .is_some_and(|e| e.iter().any(|x| x != "(added by rule)"))
        })
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

/// Analyses `prog` alone (no cache) into `NAME.analysis` in `t`; returns the syscalls with a
/// site in its code (`sited`) and analyze's stderr. The analysis must be complete.
fn analyse_sited(t: &TempDir, name: &str, prog: &Path) -> (BTreeSet<String>, String) {
    let (_, out) = analyze(&t.0, name, &["--no-cache"], &[prog.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    (sited(&t.join(&format!("{name}.analysis"))), out.stderr)
}

/// Fails naming `what` and every recorded (abi, syscall) the analysis `reach` lacks.
fn assert_covers(
    what: &str,
    seen: &BTreeSet<(String, String)>,
    reach: &BTreeSet<(String, String)>,
    stderr: &str,
) {
    let missed: Vec<_> = seen.difference(reach).collect();
    assert!(
        missed.is_empty(),
        "{what}: recorded, not analysed: {missed:?}\n{stderr}"
    );
}

/// (abi, syscall) pairs, as a recording or an analysis holds them.
type Syscalls = BTreeSet<(String, String)>;

/// Records `prog` (no arguments) and analyses it (with `extra` flags), both as `tag` in `dir`;
/// fails unless the analysis is complete and covers the run. Returns (the run's syscalls, the
/// analysis', the analysis' output).
fn run_and_analyse(
    dir: &Path,
    tag: &str,
    what: &str,
    prog: &Path,
    extra: &[&str],
) -> (Syscalls, Syscalls, Out) {
    let p = prog.to_str().unwrap();
    let seen = record(dir, tag, &[p]);
    let (reach, out) = analyze(dir, tag, extra, &[p]);
    assert_complete(what, &out);
    assert_covers(what, &seen, &reach, &out.stderr);
    (seen, reach, out)
}

/// Fails unless the analysis exited 0 and said it is complete.
fn assert_complete(what: &str, out: &Out) {
    assert!(
        out.code == 0 && out.stderr.contains("complete: every reachable"),
        "{what}: not complete:\n{}",
        out.stderr
    );
}

fn record(dir: &Path, tag: &str, cmd: &[&str]) -> BTreeSet<(String, String)> {
    record_with(dir, tag, cmd, &[])
}

/// `record` with variables set in the workload's environment.
fn record_with(
    dir: &Path,
    tag: &str,
    cmd: &[&str],
    env: &[(&str, &str)],
) -> BTreeSet<(String, String)> {
    let rec = dir.join(format!("{tag}.rec"));
    let prof = dir.join(format!("{tag}.json"));
    let mut args = vec![
        "record",
        "-q",
        "--backend",
        "notify",
        "--recording",
        rec.to_str().unwrap(),
        "-o",
        prof.to_str().unwrap(),
        "--",
    ];
    args.extend_from_slice(cmd);
    let mut c = syscage_cmd();
    c.args(&args)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null());
    let out = run_command(c);
    assert_eq!(out.code, 0, "record {cmd:?}: {}", out.stderr);
    recorded_names(&rec)
}

/// A Go program built from `src` by the machine's Go toolchain (golang-go), its build cache in
/// `dir`. `external`: a PIE linked by the C linker, as Debian builds its Go packages (dockerd):
/// Go's function table then has no section of its own.
fn go_build(dir: &Path, name: &str, src: &str, external: bool) -> PathBuf {
    let d = dir.join(format!("{name}-src"));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("main.go"), src).unwrap();
    let out = dir.join(name);
    let mut cmd = Command::new("go");
    cmd.current_dir(&d)
        .arg("build")
        .args(if external {
            &["-buildmode=pie", "-ldflags=-linkmode=external"][..]
        } else {
            &[]
        })
        .arg("-o")
        .arg(&out)
        .arg("main.go")
        .env("GOCACHE", dir.join("gocache"))
        .env("GOPATH", dir.join("gopath"))
        .env("GO111MODULE", "off")
        .env("CGO_ENABLED", if external { "1" } else { "0" });
    let r = match cmd.output() {
        Ok(o) => Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into(),
            stderr: String::from_utf8_lossy(&o.stderr).into(),
        },
        Err(e) => panic!("go build: {e}: install golang-go (scripts/install-deps.sh test does)"),
    };
    assert_eq!(r.code, 0, "go build {name}: {}", r.stderr);
    out
}

/// A Go program that stats, reads, makes directories, reads a link, asks its uid, serves one
/// connection on 127.0.0.1 from a goroutine: Go's own syscall wrappers (`syscall.Syscall`
/// spills the number around `entersyscall`; `rawSyscallNoError` takes it on the stack).
const GO_PROGRAM: &str = r#"package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
)

func main() {
	dir := os.Args[1]
	st, err := os.Stat("/etc/hostname")
	if err == nil {
		fmt.Println(st.Size())
	}
	fmt.Println(syscall.Getuid(), os.Getpid())
	os.MkdirAll(filepath.Join(dir, "x", "y"), 0o755)
	os.Chmod(filepath.Join(dir, "x"), 0o700)
	b, _ := os.ReadFile("/etc/hostname")
	fmt.Println(len(b))
	l, _ := os.Readlink("/proc/self/exe")
	fmt.Println(l)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	done := make(chan bool)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("hi"))
			c.Close()
		}
		done <- true
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 2)
	c.Read(buf)
	<-done
	fmt.Println(string(buf))
}
"#;

/// Soundness: everything `record` sees a real program do is in what `analyze` computes from
/// its files, per ABI. A miss names the syscall and the program.
#[test]
fn every_recorded_syscall_is_reachable_in_the_analysis() {
    let t = TempDir::new("analyze-sound");
    let dlopen_prog = cc(
        &t.0,
        "dl",
        "#include <dlfcn.h>\n#include <stdio.h>\nint main(void){void*h=dlopen(\"libz.so.1\",RTLD_NOW);if(!h)return 1;const char*(*v)(void)=(const char*(*)(void))dlsym(h,\"zlibVersion\");printf(\"%s\\n\",v());return 0;}\n",
        &["-O2"],
    );
    let wrapper = cc(
        &t.0,
        "wrap",
        "#include <unistd.h>\n#include <sys/syscall.h>\nint main(void){syscall(SYS_getppid);syscall(SYS_sched_yield);return 0;}\n",
        &["-O2"],
    );
    let dl = dlopen_prog.to_str().unwrap().to_string();
    let wr = wrapper.to_str().unwrap().to_string();
    let go = go_build(&t.0, "goprog", GO_PROGRAM, false)
        .to_str()
        .unwrap()
        .to_string();
    let go_ext = go_build(&t.0, "goprog-pie", GO_PROGRAM, true)
        .to_str()
        .unwrap()
        .to_string();
    let go_dir = t.0.join("go-work");
    std::fs::create_dir_all(&go_dir).unwrap();
    let go_ext_dir = t.0.join("go-pie-work");
    std::fs::create_dir_all(&go_ext_dir).unwrap();
    let workloads: Vec<(&str, Vec<String>)> = vec![
        ("true", vec!["/bin/true".into()]),
        ("ls", vec!["ls".into(), "-la".into(), "/".into()]),
        (
            "sh",
            vec![
                "sh".into(),
                "-c".into(),
                "echo hi; read x < /etc/hostname".into(),
            ],
        ),
        (
            "perl",
            vec![
                "perl".into(),
                "-e".into(),
                "open(F, '/etc/hostname'); print <F>;".into(),
            ],
        ),
        ("git", vec!["git".into(), "--version".into()]),
        (
            "sqlite3",
            vec!["sqlite3".into(), ":memory:".into(), "select 1;".into()],
        ),
        (
            "getent",
            vec!["getent".into(), "passwd".into(), "root".into()],
        ),
        (
            "busybox",
            vec![busybox().to_str().unwrap().into(), "ls".into(), "/".into()],
        ),
        (
            "python3",
            vec![
                "python3".into(),
                "-c".into(),
                "import ssl, socket; socket.gethostname()".into(),
            ],
        ),
        ("dlopen", vec![dl.clone()]),
        ("wrapper", vec![wr.clone()]),
        ("go", vec![go.clone(), go_dir.to_str().unwrap().into()]),
        (
            "go-pie",
            vec![go_ext.clone(), go_ext_dir.to_str().unwrap().into()],
        ),
        ("nginx", vec!["/usr/sbin/nginx".into(), "-V".into()]),
        (
            "curl",
            vec!["curl".into(), "-s".into(), "file:///etc/hostname".into()],
        ),
    ];
    let dir = t.0.clone();
    let handles: Vec<_> = workloads
        .into_iter()
        .map(|(tag, cmd)| {
            let dir = dir.clone();
            std::thread::spawn(move || {
                let argv: Vec<&str> = cmd.iter().map(String::as_str).collect();
                let seen = record(&dir, tag, &argv);
                let (reachable, out) = analyze(&dir, tag, &[], &argv[..1]);
                let missed: Vec<_> = seen.difference(&reachable).cloned().collect();
                (tag, missed, format!("{argv:?}\n{}", out.stderr))
            })
        })
        .collect();
    let mut failures = Vec::new();
    for h in handles {
        let (tag, missed, stderr) = h.join().unwrap();
        if !missed.is_empty() {
            failures.push(format!(
                "{tag}: recorded but not reachable: {missed:?}\n{stderr}"
            ));
        }
        if tag == "dlopen" {
            assert!(
                stderr.contains("dlopen(\"libz.so.1\")") && stderr.contains("libz.so.1"),
                "{stderr}"
            );
        }
        if tag == "getent" {
            assert!(stderr.contains("NSS ("), "{stderr}");
        }
        if tag == "go" || tag == "go-pie" {
            // Every site's number is known: the spilled, stacked and package-variable numbers
            // are followed, and the runtime's all-threads replay is named, not unresolved.
            assert!(
                stderr.contains("complete: every reachable syscall site's number is known"),
                "{stderr}"
            );
            assert!(stderr.contains("runtime.runPerThreadSyscall"), "{stderr}");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Precision: a program of raw syscalls and nothing else gives exactly its set (plus the ones
/// every program gets by rule, each said with its reason), `int 0x80` as i386; glibc's
/// `syscall()` with constants adds exactly those numbers; stripping changes nothing.
#[test]
fn programs_with_known_syscalls_give_exactly_their_set() {
    let t = TempDir::new("analyze-exact");
    let raw = cc(
        &t.0,
        "raw",
        r#"
static const char msg[] = "hi\n";
void _start(void) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "0"(39L) : "rcx", "r11", "memory");
    __asm__ volatile("syscall" : "=a"(r) : "0"(1L), "D"(1L), "S"(msg), "d"(3L) : "rcx", "r11", "memory");
    __asm__ volatile("int $0x80" : "=a"(r) : "0"(20L) : "memory");
    __asm__ volatile("syscall" : : "a"(60L), "D"(0L) : "rcx", "r11", "memory");
    for (;;) {}
}
"#,
        &RAW,
    );
    let rec = t.join("raw.analysis");
    let out = syscage_args(&[
        "analyze",
        "--recording",
        rec.to_str().unwrap(),
        raw.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("complete"), "{}", out.stderr);
    assert_eq!(
        sited(&rec),
        BTreeSet::from(["getpid".into(), "write".into(), "exit".into()]),
        "{}",
        out.stderr
    );
    assert!(
        recorded_names(&rec).contains(&("i386".to_string(), "getpid".to_string())),
        "int 0x80 is the i386 table: {:?}",
        recorded_names(&rec)
    );
    for rule in [
        "+ clock_gettime: the vDSO",
        "+ restart_syscall: the kernel restarts",
    ] {
        assert!(out.stderr.contains(rule), "{rule}: {}", out.stderr);
    }
    // The program really makes them: run it under the profile the analysis writes.
    let run = run_under_its_analysis(&t, "raw", &raw, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "hi\n");

    // syscall(SYS_x) with constants: exactly those beyond an empty main (two that nothing in
    // libc reached from an empty main makes).
    let with = cc(
        &t.0,
        "with",
        "#include <unistd.h>\n#include <sys/syscall.h>\nint main(void){syscall(SYS_getppid);syscall(SYS_kcmp,0,0,0,0,0);return 0;}\n",
        &["-O2"],
    );
    let without = cc(&t.0, "without", "int main(void){return 0;}\n", &["-O2"]);
    let (a, _) = analyze(&t.0, "with", &[], &[with.to_str().unwrap()]);
    let (b, _) = analyze(&t.0, "without", &[], &[without.to_str().unwrap()]);
    let extra: BTreeSet<_> = a.difference(&b).map(|(_, n)| n.clone()).collect();
    assert_eq!(
        extra,
        BTreeSet::from(["getppid".to_string(), "kcmp".to_string()])
    );

    // Stripped or not, the same set.
    let full = cc(
        &t.0,
        "full",
        "#include <stdio.h>\n#include <unistd.h>\nstatic int f(int x){return x*2;}\nint main(int c,char**v){printf(\"%d\\n\",f(c));return getpid()>0?0:1;}\n",
        &["-O1", "-g"],
    );
    let stripped = t.join("stripped");
    std::fs::copy(&full, &stripped).unwrap();
    let mut s = Command::new("strip");
    s.arg(&stripped);
    run_command(s).assert_code(0);
    let (x, _) = analyze(&t.0, "full", &[], &[full.to_str().unwrap()]);
    let (y, _) = analyze(&t.0, "stripped", &[], &[stripped.to_str().unwrap()]);
    assert_eq!(x, y);
}

/// `--explain NAME` prints one path from an entry point to a site: the evidence to trust or
/// dispute a syscall.
/// Data some assembly keeps in .text after a function's unwind entry (OpenSSL's and libgcrypt's
/// tables) decodes to anything: here an invalid instruction (two bytes, as the decoder reads
/// them), then `mov eax, 62; syscall` (kill). Read as data it adds nothing; branched into from
/// real code it counts.
#[test]
fn data_in_text_after_an_unwind_entry_is_not_code_unless_code_goes_there() {
    let t = TempDir::new("analyze-text-data");
    let src = |jump: &str| {
        format!(
            r#"
extern const char tbl[];
__asm__(".text\n.p2align 4\n"
        "helper:\n.cfi_startproc\nret\n.cfi_endproc\n"
        "tbl:\n.byte 0x06, 0x90, 0xb8, 0x3e, 0, 0, 0, 0x0f, 0x05, 0xc3\n");
static void nothing(void) {{}}
void _start(void) {{
    long r;
    /* The table's address taken, and an indirect call: what is taken counts as a target. */
    const char *volatile p = tbl;
    void (*volatile fp)(void) = nothing;
    if (p[0] == 8) fp();
    if (p[0] == 7) {{ {jump} }}
    __asm__ volatile("syscall" : "=a"(r) : "0"(39L), "D"((long)p[0]) : "rcx", "r11", "memory");
    __asm__ volatile("syscall" : : "a"(60L), "D"(0L) : "rcx", "r11", "memory");
    for (;;) {{}}
}}
"#
        )
    };
    for (name, jump, kill) in [
        ("read", "", false),
        ("jumped", r#"__asm__ volatile("jmp tbl+2");"#, true),
    ] {
        let prog = cc(&t.0, name, &src(jump), &RAW);
        let (_, out) = analyze(&t.0, name, &["--no-cache"], &[prog.to_str().unwrap()]);
        let rec = t.join(&format!("{name}.analysis"));
        assert_eq!(out.code, 0, "{name}: {}", out.stderr);
        assert!(out.stderr.contains("complete"), "{name}: {}", out.stderr);
        let got = sited(&rec);
        assert!(
            got.contains("getpid") && got.contains("exit"),
            "{name}: {got:?}"
        );
        assert_eq!(
            got.contains("kill"),
            kill,
            "{name}: {got:?}\n{}",
            out.stderr
        );
    }
}

/// A call through a function pointer the program changes (`call *hook(%rip)`, a variable in
/// .data) may go to any function whose address is taken, not only to the one the variable
/// starts as; only a slot the loader alone writes (the GOT) binds a call. The program sets
/// `hook` to `loud` (getppid) in a function the compiler cannot see through, then calls it:
/// the analysis must reach `loud`, and the program must run under the profile it writes.
#[test]
fn a_call_through_a_changed_function_pointer_reaches_what_it_was_changed_to() {
    let t = TempDir::new("analyze-hook");
    let src = r#"
static long sys(long n) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "0"(n) : "rcx", "r11", "memory");
    return r;
}
static void quiet(void) { if (sys(39) < 0) sys(231); }
static void loud(void) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "0"(110L) : "rcx", "r11", "memory");
    if (r < 0) { __asm__ volatile("syscall" : : "a"(60L), "D"(1L) : "rcx", "r11", "memory"); }
}
void (*hook)(void) = quiet;
__attribute__((noipa)) void choose(void) { hook = loud; }
void _start(void) {
    choose();
    hook();
    __asm__ volatile("syscall" : : "a"(60L), "D"(0L) : "rcx", "r11", "memory");
    for (;;) {}
}
"#;
    let prog = cc(&t.0, "hook", src, &RAW);
    // The call really goes through the variable, not a register the compiler loaded.
    let mut d = Command::new("objdump");
    d.args(["-d", prog.to_str().unwrap()]);
    let dis = run_command(d);
    assert!(
        dis.stdout.contains("call   *0x") && dis.stdout.contains("<hook>"),
        "expected a call through hook's memory:\n{}",
        dis.stdout
    );
    let (got, stderr) = analyse_sited(&t, "hook", &prog);
    assert!(
        got.contains("getppid") && got.contains("getpid"),
        "both what hook starts as and what it is changed to: {got:?}\n{}",
        stderr
    );
    let run = run_under_its_analysis(&t, "hook", &prog, &[]);
    assert_eq!(
        run.code, 0,
        "getppid denied under the analysis' profile: {}",
        run.stderr
    );
}

/// A signal handler is called by the kernel, not by the program's code: once a handler can be
/// installed, every function whose address is taken may run, even where no indirect call is
/// reachable (a static program with no function pointer call of its own). The handler here
/// makes getppid; the profile the analysis writes must let the program take its signal.
#[test]
fn a_signal_handler_is_reachable_without_an_indirect_call() {
    let t = TempDir::new("analyze-handler");
    let src = r#"
static long sys(long n, long a, long b, long c, long d) {
    long r;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(r) : "0"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return r;
}
static void handler(int s) { (void)s; if (sys(110, 0, 0, 0, 0) < 0) sys(60, 3, 0, 0, 0); }
__asm__(".text\nrestore:\nmov $15, %eax\nsyscall\n");
extern void restore(void);
struct ksa { void (*h)(int); unsigned long flags; void (*restorer)(void); unsigned long mask; };
void _start(void) {
    struct ksa sa = { handler, 0x04000000UL, restore, 0 };
    if (sys(13, 10, (long)&sa, 0, 8) < 0) sys(60, 2, 0, 0, 0);
    sys(62, sys(39, 0, 0, 0, 0), 10, 0, 0);
    sys(60, 0, 0, 0, 0);
    for (;;) {}
}
"#;
    let prog = cc(&t.0, "handler", src, &RAW);
    let (got, stderr) = analyse_sited(&t, "handler", &prog);
    assert!(
        got.contains("getppid"),
        "the handler's call: {got:?}\n{}",
        stderr
    );
    let why = syscage_args(&["analyze", "--explain", "getppid", prog.to_str().unwrap()]);
    assert!(
        why.stdout.contains("signal handler") || why.stderr.contains("signal handler"),
        "{}{}",
        why.stdout,
        why.stderr
    );
    let run = run_under_its_analysis(&t, "handler", &prog, &[]);
    assert_eq!(run.code, 0, "the handler's getppid denied: {}", run.stderr);
}

/// GCC moves a switch's unlikely cases to a part of their own (`f.cold`, with its own unwind
/// entry: to the analysis a function of its own), reached only through the switch's jump
/// table. The table is read, so the case's syscall (times) is reachable; the program takes
/// that case under the profile the analysis writes.
#[test]
fn switch_cases_moved_out_of_their_function_are_reachable() {
    let t = TempDir::new("analyze-cold");
    let src = r#"
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
__attribute__((cold, noinline)) void oops(const char *m) { fputs(m, stderr); }
__attribute__((noinline)) long f(int x, const char *s) {
    switch (x) {
    case 0: return syscall(SYS_getpid);
    case 1: return syscall(SYS_getuid);
    case 2: return syscall(SYS_gettid);
    case 3:
        oops(s);
        if (syscall(SYS_times, 0) <= 0) return -1;
        oops(s);
        fprintf(stderr, "%s %d\n", s, x);
        return 0;
    case 4: return syscall(SYS_getgid);
    case 5: return syscall(SYS_geteuid);
    case 6: return syscall(SYS_getegid);
    default: return 0;
    }
}
int main(int c, char **v) { return f(c + (v[1] ? v[1][0] - '0' : 0), "") < 0 ? 5 : 0; }
"#;
    let prog = cc(&t.0, "cold", src, &["-O2"]);
    // The compiler did move the case out (else this test proves nothing).
    let mut nm = Command::new("nm");
    nm.arg(&prog);
    let syms = run_command(nm);
    assert!(
        syms.stdout.contains("f.cold"),
        "no f.cold:\n{}",
        syms.stdout
    );
    let (got, stderr) = analyse_sited(&t, "cold", &prog);
    assert!(
        got.contains("times"),
        "the cold case's call: {got:?}\n{}",
        stderr
    );
    // argc 1 + "2": case 3.
    let run = run_under_its_analysis(&t, "cold", &prog, &["2"]);
    assert_eq!(
        run.code, 0,
        "times denied under the analysis' profile: {}",
        run.stderr
    );
}

/// A program in assembly whose `_start` dispatches on argc with `DISPATCH` (index in rdi,
/// the frame 32 bytes deep) to `one` (exit 0) or `part`: a function of its own (as GCC's
/// `f.cold`) that nothing else reaches, runs in `_start`'s frame and makes getppid. `dead`,
/// unreached too, makes getuid from a function's frame at entry.
fn unseen_part_program(dispatch: &str) -> String {
    format!(
        r#"
__asm__(".text\n"
        ".globl _start\n.type _start,@function\n_start:\n.cfi_startproc\n.cfi_undefined rip\n"
        "mov (%rsp), %rdi\nsub $24, %rsp\n.cfi_def_cfa_offset 32\n"
        {dispatch}
        "one:\nmov $60, %eax\nxor %edi, %edi\nsyscall\nhlt\n.cfi_endproc\n.size _start, .-_start\n"
        ".type part,@function\npart:\n.cfi_startproc\n.cfi_def_cfa_offset 32\n"
        "mov $110, %eax\nsyscall\nmov %rax, %rdi\nshr $63, %rdi\nmov $60, %eax\nsyscall\nhlt\n"
        ".cfi_endproc\n.size part, .-part\n"
        ".type dead,@function\ndead:\n.cfi_startproc\n"
        "mov $102, %eax\nsyscall\nret\n.cfi_endproc\n.size dead, .-dead\n"
        ".section .rodata\n.p2align 2\ntable:\n.long one - table\n.long part - table\n");
"#
    )
}

/// `unseen_part_program(dispatch)` analysed and run with one argument (the table's second
/// entry): `part` must be in the analysis and its getppid allowed, `dead`'s getuid not found.
fn reaches_the_unseen_part(name: &str, dispatch: &str) {
    let t = TempDir::new(&format!("analyze-{name}"));
    let prog = cc(&t.0, name, &unseen_part_program(dispatch), &RAW);
    let (got, stderr) = analyse_sited(&t, name, &prog);
    assert!(
        got.contains("getppid") && !got.contains("getuid"),
        "the part the jump enters (getppid), not the dead code (getuid): {got:?}\n{}",
        stderr
    );
    let run = run_under_its_analysis(&t, name, &prog, &["x"]);
    assert_eq!(
        run.code, 0,
        "getppid denied under the analysis' profile: {}",
        run.stderr
    );
}

/// A switch whose table the analysis cannot read (the register jumped through is a copy, as
/// in glibc's printf, where it is computed in another block) may enter a part of the program
/// nothing else reaches. It is followed because it runs in the switch's frame (the same frame
/// rule); dead code whose frame is a function's at entry is not (precision).
#[test]
fn a_switch_whose_table_is_not_read_reaches_the_parts_nothing_else_does() {
    reaches_the_unseen_part(
        "unread",
        r#""lea table(%rip), %rcx\nmovslq -4(%rcx,%rdi,4), %rax\nadd %rcx, %rax\n"
        "mov %rax, %rdx\njmp *%rdx\n""#,
    );
}

/// The same through a computed jump that is no switch (the index scaled by hand, so no
/// `[table + index*4]` load): made inside a frame, it is no tail call.
#[test]
fn a_computed_jump_inside_a_frame_reaches_the_parts_nothing_else_does() {
    reaches_the_unseen_part(
        "computed",
        r#""lea table(%rip), %rcx\nlea -4(%rcx,%rdi,4), %rax\nmovslq (%rax), %rax\n"
        "add %rcx, %rax\njmp *%rax\n""#,
    );
}

/// A function whose last instruction lets execution go on runs into the next one, as glibc's
/// `__memcpy_chk` variants check the size and fall into `memcpy`: `chk` here checks its
/// argument and falls into `work`, which makes getppid.
#[test]
fn a_function_that_falls_into_the_next_reaches_it() {
    let t = TempDir::new("analyze-fall");
    let src = r#"
__asm__(".text\n"
        ".globl chk_fail\n.type chk_fail,@function\nchk_fail:\n"
        "mov $60, %eax\nmov $3, %edi\nsyscall\nhlt\n.size chk_fail, .-chk_fail\n"
        ".globl chk\n.type chk,@function\nchk:\n"
        "test %rdi, %rdi\njs chk_fail\n.size chk, .-chk\n"
        ".globl work\n.type work,@function\nwork:\n"
        "mov $110, %eax\nsyscall\nret\n.size work, .-work\n");
long chk(long);
void _start(void) {
    long r = chk(1);
    __asm__ volatile("syscall" : : "a"(60L), "D"(r < 0 ? 4L : 0L) : "rcx", "r11", "memory");
    for (;;) {}
}
"#;
    let prog = cc(&t.0, "fall", src, &RAW);
    let (got, stderr) = analyse_sited(&t, "fall", &prog);
    assert!(got.contains("getppid"), "work's call: {got:?}\n{}", stderr);
    let run = run_under_its_analysis(&t, "fall", &prog, &[]);
    assert_eq!(
        run.code, 0,
        "getppid denied under the analysis' profile: {}",
        run.stderr
    );
}

#[test]
fn explain_shows_a_path_from_the_entry_point() {
    let out = syscage_args(&[
        "analyze",
        "--explain",
        "write",
        "--explain",
        "kexec_load",
        "/bin/true",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The path ends at an entry point: the program's, or the loader's (its jump to the
    // program's entry is the first indirect call a pool member may be reached by).
    let write = out.stdout.split("kexec_load").next().unwrap_or_default();
    assert!(
        write.contains("write (x86_64): syscall site at 0x")
            && write
                .trim_end()
                .lines()
                .last()
                .is_some_and(|l| l.contains("is the entry point of /usr/")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("kexec_load: not reachable"),
        "{}",
        out.stdout
    );
}

/// An image root and an OCI bundle: paths, symlinks and libraries are the root's own.
#[test]
fn a_root_and_a_bundle_are_analysed_inside_them() {
    let t = TempDir::new("analyze-root");
    let rootfs = t.join("rootfs");
    busybox_rootfs(&rootfs);
    let (set, out) = analyze(
        &t.0,
        "root",
        &["--root", rootfs.to_str().unwrap()],
        &["/bin/sh"],
    );
    assert!(
        set.contains(&("x86_64".into(), "write".into())),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("ld-linux"),
        "a static busybox maps nothing: {}",
        out.stderr
    );
    std::fs::write(
        t.join("config.json"),
        r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["/bin/sh","-c","true"],"cwd":"/"}}"#,
    )
    .unwrap();
    let (set2, out) = analyze(&t.0, "bundle", &["--bundle", t.0.to_str().unwrap()], &[]);
    assert_eq!(set, set2, "{}", out.stderr);
}

/// Bad input: a clear error naming the file (125), or an incomplete result naming what is
/// missing (3); never a panic, never a huge file read whole.
#[test]
fn bad_inputs_get_clear_errors() {
    let t = TempDir::new("analyze-bad");
    let text = t.join("notes.txt");
    std::fs::write(&text, "hello\n").unwrap();
    let out = syscage_args(&["analyze", text.to_str().unwrap()]);
    out.assert_code(125).assert_no_panic();
    assert!(
        out.stderr.contains("notes.txt: not an ELF file"),
        "{}",
        out.stderr
    );

    let bytes = std::fs::read("/bin/true").unwrap();
    let trunc = t.join("truncated");
    std::fs::write(&trunc, &bytes[..200]).unwrap();
    let out = syscage_args(&["analyze", trunc.to_str().unwrap()]);
    out.assert_code(125).assert_no_panic();
    assert!(out.stderr.contains("truncated: "), "{}", out.stderr);

    let mut i386 = bytes.clone();
    i386[4] = 1;
    i386[18] = 3;
    let wrong = t.join("wrong-machine");
    std::fs::write(&wrong, &i386).unwrap();
    let out = syscage_args(&["analyze", wrong.to_str().unwrap()]);
    out.assert_code(125).assert_no_panic();
    assert!(
        out.stderr
            .contains("wrong-machine: an i386 object: only x86_64 objects are analysed"),
        "{}",
        out.stderr
    );

    // 4 GB, sparse: refused from its header, not read.
    let big = t.join("big");
    std::fs::write(&big, &bytes[..64]).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(4 << 30)
        .unwrap();
    let out = syscage_args(&["analyze", big.to_str().unwrap()]);
    out.assert_code(125).assert_no_panic();
    assert!(out.stderr.contains("larger than"), "{}", out.stderr);

    // A missing library, and libraries that need each other.
    let liba = cc(
        &t.0,
        "liba.so",
        "int b(void); int a(void){return 1;}\n",
        &["-shared", "-fPIC"],
    );
    let libb = cc(
        &t.0,
        "libb.so",
        "int a(void); int b(void){return a();}\n",
        &["-shared", "-fPIC", &format!("-L{}", t.str()), "-l:liba.so"],
    );
    let _ = cc(
        &t.0,
        "liba.so",
        "int b(void); int a(void){return b();}\n",
        &["-shared", "-fPIC", &format!("-L{}", t.str()), "-l:libb.so"],
    );
    let prog = cc(
        &t.0,
        "uses",
        "int a(void); int main(void){return a();}\n",
        &[
            &format!("-L{}", t.str()),
            "-l:liba.so",
            &format!("-Wl,-rpath,{}", t.str()),
        ],
    );
    let out = syscage_args(&["analyze", prog.to_str().unwrap()]);
    out.assert_no_panic();
    assert!(out.code == 0 || out.code == 3, "cyclic: {}", out.stderr);
    std::fs::remove_file(&libb).unwrap();
    let _ = liba;
    let out = syscage_args(&["analyze", prog.to_str().unwrap()]);
    out.assert_code(3).assert_no_panic();
    assert!(
        out.stderr
            .contains("incomplete: a library is missing: libb.so (needed by"),
        "{}",
        out.stderr
    );

    // A computed dlopen name: incomplete, with the way out.
    let dl = cc(
        &t.0,
        "dlcomputed",
        "#include <dlfcn.h>\nint main(int c,char**v){return dlopen(v[c-1],RTLD_NOW)?0:1;}\n",
        &["-O2"],
    );
    let out = syscage_args(&["analyze", dl.to_str().unwrap()]);
    out.assert_code(3);
    assert!(
        out.stderr.contains("dlopen with a computed name") && out.stderr.contains("--dlopen LIB"),
        "{}",
        out.stderr
    );
    let script = t.join("script");
    std::fs::write(&script, "#!/nonexistent/interp\n").unwrap();
    let out = syscage_args(&["analyze", script.to_str().unwrap()]);
    out.assert_code(125);
    assert!(
        out.stderr
            .contains("script: its #! interpreter /nonexistent/interp is not in the root"),
        "{}",
        out.stderr
    );
    let out = syscage_args(&["analyze", "/nonexistent/prog"]);
    out.assert_code(125);
    assert!(out.stderr.contains("/nonexistent/prog"), "{}", out.stderr);
}

/// A root is someone else's files: where the analysis reads a file of it (the loader's cache,
/// nsswitch.conf, a debug file, a program, a script's interpreter, an executable of a whole-root
/// scan), a FIFO must not block it and a device must not be read (its open can act, /dev/zero
/// never ends). The analysis finishes, names what it refused, and still analyses the rest.
#[test]
fn files_of_a_root_that_are_not_regular_are_refused_without_blocking() {
    let t = TempDir::new("analyze-fifo");
    let root = t.join("root");
    for (host, inside) in [
        ("/lib64/ld-linux-x86-64.so.2", "lib64/ld-linux-x86-64.so.2"),
        (
            "/lib/x86_64-linux-gnu/libc.so.6",
            "lib/x86_64-linux-gnu/libc.so.6",
        ),
        ("/usr/bin/whoami", "usr/bin/whoami"),
    ] {
        let to = root.join(inside);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(host, &to).unwrap();
    }
    let fifo = |inside: &str, mode: u32| {
        let p = root.join(inside);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(mode)).unwrap();
    };
    // whoami looks its user up (getpwuid: NSS, so nsswitch.conf is read); libc's debug file
    // is looked for at its build-id.
    fifo("etc/nsswitch.conf", 0o644);
    let id = build_id(Path::new("/lib/x86_64-linux-gnu/libc.so.6"));
    fifo(
        &format!("usr/lib/debug/.build-id/{}/{}.debug", &id[..2], &id[2..]),
        0o644,
    );
    fifo("usr/bin/fifo", 0o755);
    std::fs::write(root.join("usr/bin/script"), "#!/usr/bin/fifo\n").unwrap();
    // A device node where the loader's cache is: /dev/zero's numbers (root may make one).
    nix::sys::stat::mknod(
        &root.join("etc/ld.so.cache"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o644),
        nix::sys::stat::makedev(1, 5),
    )
    .expect("mknod (the tests run as root)");
    // A hang ends in `syscage_args`'s timeout.
    let in_root = |args: &[&str]| {
        let mut all = vec!["analyze", "--no-cache", "--root", root.to_str().unwrap()];
        all.extend(args);
        let out = syscage_args(&all);
        out.assert_no_panic();
        out
    };
    let out = in_root(&["/usr/bin/whoami"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("reachable syscalls"), "{}", out.stderr);
    let out = in_root(&["/usr/bin/fifo"]);
    out.assert_code(125);
    assert!(
        out.stderr.contains("/usr/bin/fifo: not a regular file"),
        "{}",
        out.stderr
    );
    let out = in_root(&["/usr/bin/script"]);
    out.assert_code(125);
    assert!(
        out.stderr.contains("/usr/bin/fifo: not a regular file"),
        "{}",
        out.stderr
    );
    // A bundle whose config.json is a FIFO.
    let bundle = t.join("bundle");
    std::fs::create_dir(&bundle).unwrap();
    nix::unistd::mkfifo(
        &bundle.join("config.json"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let out = syscage_args(&["analyze", "--bundle", bundle.to_str().unwrap()]);
    out.assert_code(125).assert_no_panic();
    assert!(
        out.stderr.contains("config.json: not a regular file"),
        "{}",
        out.stderr
    );
    // The whole root: the executable FIFO is no program of it.
    let out = in_root(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("analysing the 1 executable of")
            && out.stderr.contains("reachable syscalls"),
        "{}",
        out.stderr
    );
}

/// `report --analysis`: the coverage gap of a recording (reachable, never recorded, riskiest
/// first) and, loudly, anything recorded that the analysis says is unreachable.
#[test]
fn report_shows_the_gap_between_a_recording_and_the_analysis() {
    let t = TempDir::new("analyze-gap");
    let seen = record(&t.0, "ls", &["ls", "/"]);
    let (reach, out) = analyze(&t.0, "ls", &[], &["ls"]);
    assert_covers("ls", &seen, &reach, &out.stderr);
    let rec = t.join("ls.rec");
    let an = t.join("ls.analysis");
    let out = syscage_args(&[
        "report",
        rec.to_str().unwrap(),
        "--analysis",
        an.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let gap = out
        .stdout
        .split("reachable but never recorded (")
        .nth(1)
        .expect(&out.stdout);
    let n: usize = gap.split(')').next().unwrap().parse().unwrap();
    assert_eq!(n, reach.difference(&seen).count(), "{}", out.stdout);
    assert!(
        !out.stdout.contains("RECORDED BUT NOT REACHABLE"),
        "{}",
        out.stdout
    );
    let json = syscage_args(&[
        "report",
        "--format",
        "json",
        rec.to_str().unwrap(),
        "--analysis",
        an.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        v["analysis"]["reachable_unrecorded"]
            .as_array()
            .unwrap()
            .len(),
        n
    );
    assert_eq!(
        v["analysis"]["recorded_unreachable"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // `record --analyze` says the same when the recording ends.
    let mut c = syscage_cmd();
    c.args(["record", "--analyze", "--backend", "notify", "-o"])
        .arg(t.join("x.json"))
        .args(["--", "ls", "/"]);
    let out = run_command(c);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("syscage: analysis of ls: ")
            && out
                .stderr
                .contains(" never recorded in this run, riskiest first: "),
        "{}",
        out.stderr
    );

    // check PROFILE --analysis: the profile `record` wrote for ls beside what ls can reach.
    let prof = t.join("ls.json");
    let out = syscage_args(&[
        "check",
        prof.to_str().unwrap(),
        "--analysis",
        an.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect(&out.stdout);
    let names = |k: &str| -> BTreeSet<String> {
        v["analysis"][k]
            .as_array()
            .expect(k)
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect()
    };
    let denied = names("reachable_denied");
    let unreachable = names("allowed_unreachable");
    let reach_names: BTreeSet<String> = reach.iter().map(|(_, n)| n.clone()).collect();
    let seen_names: BTreeSet<String> = seen.iter().map(|(_, n)| n.clone()).collect();
    assert!(denied.is_subset(&reach_names) && denied.is_disjoint(&seen_names));
    assert!(
        !denied.is_empty(),
        "ls can reach more than one run of it makes"
    );
    assert!(unreachable.is_disjoint(&reach_names), "{unreachable:?}");
    let text = syscage_args(&[
        "check",
        prof.to_str().unwrap(),
        "--analysis",
        an.to_str().unwrap(),
    ]);
    assert!(
        text.stdout
            .contains(&format!("reachable but not allowed ({})", denied.len())),
        "{}",
        text.stdout
    );

    // An analysis of another program: what it cannot reach is said, loudly.
    let (_, _) = analyze(&t.0, "true", &[], &["/bin/true"]);
    let other = t.join("true.analysis");
    let out = syscage_args(&[
        "report",
        rec.to_str().unwrap(),
        "--analysis",
        other.to_str().unwrap(),
    ]);
    assert!(
        out.stdout.contains("RECORDED BUT NOT REACHABLE"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("recorded syscalls are not reachable in the analysis"),
        "{}",
        out.stderr
    );
}

/// Runs `syscage analyze ARGS` with `SYSCAGE_CACHE_DIR=cache`.
fn analyze_cached(cache: &Path, args: &[&str]) -> Out {
    let mut c = syscage_cmd();
    c.env("SYSCAGE_CACHE_DIR", cache).arg("analyze");
    let out = syscage_with(c, args);
    out.assert_no_panic();
    assert!(
        out.code == 0 || out.code == 3,
        "analyze {args:?}: {}",
        out.stderr
    );
    out
}

fn facts_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "facts"))
                .collect()
        })
        .unwrap_or_default()
}

/// The per-object cache: a warm run gives what a cold one gave; a damaged entry is recomputed,
/// not trusted; a cache someone else could write is not used (and said); --no-cache writes
/// nothing.
#[test]
fn the_per_object_cache_changes_no_result_and_trusts_only_itself() {
    use std::os::unix::fs::PermissionsExt;
    let t = TempDir::new("analyze-cache");
    let cache = t.join("c");
    let entries = cache.join("analyze");
    let run = |tag: &str| -> (BTreeSet<(String, String)>, Out) {
        let rec = t.join(&format!("{tag}.rec"));
        let out = analyze_cached(
            &cache,
            &["--recording", rec.to_str().unwrap(), "/usr/bin/git"],
        );
        (recorded_names(&rec), out)
    };
    let (cold, _) = run("cold");
    let files = facts_files(&entries);
    assert!(
        files.len() >= 3,
        "git, libc, ld.so and more cached: {files:?}"
    );
    for f in &files {
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", f.display());
    }
    let (warm, _) = run("warm");
    assert_eq!(cold, warm);

    // Damaged entries: each cut in half.
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .collect();
    for f in &files {
        let b = std::fs::read(f).unwrap();
        std::fs::write(f, &b[..b.len() / 2]).unwrap();
    }
    let (damaged, _) = run("damaged");
    assert_eq!(cold, damaged);
    for (f, s) in files.iter().zip(&sizes) {
        assert_eq!(
            std::fs::metadata(f).unwrap().len(),
            *s,
            "{} rewritten",
            f.display()
        );
    }

    // Writable by others: not used, and said.
    std::fs::set_permissions(&entries, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (open, out) = run("open");
    assert_eq!(cold, open);
    assert!(
        out.stderr.contains("the analysis cache is not used"),
        "{}",
        out.stderr
    );

    // --no-cache: nothing written.
    let other = t.join("c2");
    let rec = t.join("nc.rec");
    analyze_cached(
        &other,
        &[
            "--no-cache",
            "--recording",
            rec.to_str().unwrap(),
            "/bin/true",
        ],
    );
    assert!(!other.exists(), "--no-cache created {}", other.display());
}

/// `--libraries-from R`: what a recording saw a program open (a library named at run time,
/// which no analysis can see) is analysed with it.
#[test]
fn libraries_a_recording_saw_are_analysed_with_the_program() {
    let t = TempDir::new("analyze-libs-from");
    let prog = cc(
        &t.0,
        "dlarg",
        "#include <dlfcn.h>\n#include <stdio.h>\n#include <sys/types.h>\n#include <sys/stat.h>\n#include <fcntl.h>\nint main(int c,char**v){void*h=dlopen(v[1],RTLD_NOW);if(!h)return 1;const char*(*f)(void)=(const char*(*)(void))dlsym(h,\"zlibVersion\");printf(\"%s\\n\",f());return 0;}\n",
        &["-O2"],
    );
    let p = prog.to_str().unwrap();
    let seen = record(&t.0, "dlarg", &[p, "libz.so.1"]);
    let rec = t.join("dlarg.rec");
    let (plain, out) = analyze(&t.0, "plain", &[], &[p]);
    assert!(
        out.stderr.contains("dlopen with a computed name"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("libz.so"), "{}", out.stderr);
    let (with, out) = analyze(
        &t.0,
        "with",
        &["--libraries-from", rec.to_str().unwrap()],
        &[p],
    );
    assert!(
        out.stderr.contains("--libraries-from") && out.stderr.contains("libz.so.1"),
        "{}",
        out.stderr
    );
    assert!(with.is_superset(&plain));
    assert_covers("dlarg", &seen, &with, &out.stderr);
}

/// A server under a client: redis (Debian ships the server in redis-tools as redis-check-rdb,
/// which serves when started by another name) is recorded while redis-cli drives it — reads,
/// writes, a background save that forks — and everything it did is in its analysis.
#[test]
fn a_server_driven_by_a_client_is_covered_by_its_analysis() {
    let t = TempDir::new("analyze-redis");
    let server = t.join("redis-server");
    std::os::unix::fs::symlink("/usr/bin/redis-check-rdb", &server).unwrap_or_else(|e| {
        panic!("redis-server: {e}: install redis-tools (scripts/install-deps.sh test does)")
    });
    assert!(
        Path::new("/usr/bin/redis-cli").exists(),
        "redis-cli is missing: install redis-tools (scripts/install-deps.sh test does)"
    );
    let sock = t.join("s.sock");
    let cli = {
        let sock = sock.clone();
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while !sock.exists() {
                assert!(std::time::Instant::now() < deadline, "redis never listened");
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let s = sock.to_str().unwrap();
            let mut replies = Vec::new();
            for cmd in [
                vec!["ping"],
                vec!["set", "k", "v"],
                vec!["get", "k"],
                vec!["bgsave"],
                vec!["shutdown", "nosave"],
            ] {
                if cmd[0] == "shutdown" {
                    // Let the background save finish first.
                    std::thread::sleep(std::time::Duration::from_millis(500));
                }
                let o = Command::new("redis-cli")
                    .args(["-s", s])
                    .args(&cmd)
                    .output()
                    .expect("redis-cli");
                replies.push(String::from_utf8_lossy(&o.stdout).trim().to_string());
            }
            replies
        })
    };
    let dir = t.0.to_str().unwrap().to_string();
    let seen = record(
        &t.0,
        "redis",
        &[
            server.to_str().unwrap(),
            "--port",
            "0",
            "--unixsocket",
            sock.to_str().unwrap(),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            &dir,
        ],
    );
    let replies = cli.join().unwrap();
    assert_eq!(&replies[..3], ["PONG", "OK", "v"], "{replies:?}");
    let (reach, out) = analyze(&t.0, "redis", &[], &[server.to_str().unwrap()]);
    eprintln!("redis: {} recorded, {} analysed", seen.len(), reach.len());
    assert_covers("redis", &seen, &reach, &out.stderr);
    for s in ["epoll_wait", "accept4", "clone"] {
        assert!(
            seen.contains(&("x86_64".to_string(), s.to_string())),
            "the workload did not exercise {s}: {seen:?}"
        );
    }
}

/// nginx as it serves: a master that switches its workers to nobody (initgroups through NSS),
/// two workers answering requests on a unix socket, a graceful quit; everything recorded is in
/// the analysis of /usr/sbin/nginx.
#[test]
fn a_serving_nginx_is_covered_by_its_analysis() {
    assert!(
        Path::new("/usr/sbin/nginx").is_file(),
        "/usr/sbin/nginx is missing: install nginx-light (scripts/install-deps.sh test does)"
    );
    let t = TempDir::new("analyze-nginx");
    let d = t.0.to_str().unwrap().to_string();
    std::fs::create_dir_all(t.join("www")).unwrap();
    std::fs::write(t.join("www/index.html"), "hello\n").unwrap();
    // The workers run as nobody: they must reach the socket's directory and the pages.
    std::fs::set_permissions(&t.0, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let sock = t.join("ngx.sock");
    std::fs::write(
        t.join("nginx.conf"),
        format!(
            "daemon off;\nmaster_process on;\nworker_processes 2;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log;\nevents {{ worker_connections 64; }}\n\
             http {{ sendfile on; access_log {d}/access.log; client_body_temp_path {d}/cb; \
             proxy_temp_path {d}/pt; fastcgi_temp_path {d}/ft; uwsgi_temp_path {d}/ut; \
             scgi_temp_path {d}/st;\n server {{ listen unix:{s}; root {d}/www; }} }}\n",
            s = sock.display()
        ),
    )
    .unwrap();
    let conf = t.join("nginx.conf");
    let client = {
        let (sock, pid, conf) = (sock.clone(), t.join("nginx.pid"), conf.clone());
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while !(sock.exists() && pid.exists()) {
                assert!(std::time::Instant::now() < deadline, "nginx never listened");
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let mut bodies = Vec::new();
            for path in ["/", "/index.html", "/missing"] {
                let o = Command::new("curl")
                    .args(["-s", "--unix-socket", sock.to_str().unwrap()])
                    .arg(format!("http://localhost{path}"))
                    .output()
                    .expect("curl");
                bodies.push(String::from_utf8_lossy(&o.stdout).to_string());
            }
            // A graceful quit: SIGQUIT to the master. Its pid file holds its pid in the
            // recording's pid namespace, so it is found by its title, which names our unique
            // configuration file.
            let master = host_pid_matching(|c| {
                let c = String::from_utf8_lossy(c);
                c.starts_with("nginx: master process") && c.contains(conf.to_str().unwrap())
            })
            .expect("the nginx master");
            Command::new("kill")
                .args(["-QUIT", &master.to_string()])
                .status()
                .expect("kill");
            bodies
        })
    };
    let seen = record(
        &t.0,
        "nginx",
        &[
            "/usr/sbin/nginx",
            "-e",
            "stderr",
            "-c",
            conf.to_str().unwrap(),
        ],
    );
    let bodies = client.join().unwrap();
    assert_eq!(bodies[0], "hello\n", "{bodies:?}");
    let (reach, out) = analyze(&t.0, "nginx", &[], &["/usr/sbin/nginx"]);
    // The floor and the bound, for docs/BENCHMARKS.md (`--nocapture` shows them).
    eprintln!("nginx: {} recorded, {} analysed", seen.len(), reach.len());
    assert_covers("nginx", &seen, &reach, &out.stderr);
    for s in ["accept4", "epoll_wait", "setuid", "sendfile"] {
        assert!(
            seen.contains(&("x86_64".to_string(), s.to_string())),
            "the workload did not exercise {s}: {seen:?}"
        );
    }
}

/// `dlsym` with a constant name makes that function reachable (V8 finds `pkey_alloc` so); with a
/// computed one the result says it is incomplete.
#[test]
fn functions_found_by_dlsym_are_reachable() {
    let t = TempDir::new("analyze-dlsym");
    let prog = cc(
        &t.0,
        "dlsym",
        "#define _GNU_SOURCE\n#include <dlfcn.h>\nint main(int c,char**v){int(*f)(int)=(int(*)(int))dlsym(RTLD_DEFAULT,\"syncfs\");if(c>1){void*g=dlsym(RTLD_DEFAULT,v[1]);return g!=0;}return f?f(0):1;}\n",
        &["-O2"],
    );
    let p = prog.to_str().unwrap();
    let seen = record(&t.0, "dlsym", &[p]);
    let (reach, out) = analyze(&t.0, "dlsym", &[], &[p]);
    assert!(
        reach.contains(&("x86_64".to_string(), "syncfs".to_string())),
        "{}",
        out.stderr
    );
    assert_covers("dlsym", &seen, &reach, &out.stderr);
    assert!(
        out.stderr.contains("dlsym with a computed name"),
        "{}",
        out.stderr
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
}

/// The objects an analysis read, from its summary line ("... reachable in N objects").
fn objects_read(stderr: &str) -> usize {
    let at = stderr
        .find(" objects\n")
        .unwrap_or_else(|| panic!("no object count in: {stderr}"));
    let n = stderr[..at].rsplit(' ').next().unwrap();
    n.parse()
        .unwrap_or_else(|_| panic!("object count {n:?} in: {stderr}"))
}

/// The analysis of `program` alone holds what its run recorded as `tag` (`record`) opened at
/// run time: the run opened a file ending in `module` (`missing` says what to install if not);
/// the analysis is complete, reads exactly the objects it reads with `--libraries-from` the
/// recording, and covers every recorded syscall `seen`. Returns the analysis, for the caller's
/// own checks of what it said.
fn assert_loads_what_the_run_opened(
    dir: &Path,
    tag: &str,
    program: &str,
    seen: &BTreeSet<(String, String)>,
    module: &str,
    missing: &str,
) -> Out {
    let rec = dir.join(format!("{tag}.rec"));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&rec).unwrap()).unwrap();
    assert!(
        v["files"]
            .as_object()
            .is_some_and(|f| f.keys().any(|k| k.ends_with(module))),
        "{tag}: the run never opened {module}{missing}: {}",
        v["files"]
    );
    let (alone, out) = analyze(dir, &format!("{tag}-alone"), &[], &[program]);
    assert_complete(tag, &out);
    let (with, out_with) = analyze(
        dir,
        &format!("{tag}-with"),
        &["--libraries-from", rec.to_str().unwrap()],
        &[program],
    );
    assert_eq!(
        objects_read(&out.stderr),
        objects_read(&out_with.stderr),
        "{tag}: the recording saw an object the analysis did not read:\nalone:\n{}\nwith the recording's libraries:\n{}",
        out.stderr,
        out_with.stderr
    );
    // (--libraries-from makes every export of what the run opened a root, libc's too: its
    // set is larger, by design; the objects are what must not change.)
    assert!(with.is_superset(&alone), "{tag}");
    assert_covers(tag, seen, &alone, &out.stderr);
    out
}

/// Plugin hosts (profiles/plugin-hosts.json) load modules by names computed at run time: the
/// analysis alone already holds every module a real run maps (adding what the recording saw
/// opened, with --libraries-from, reads no object more), covers the host's computed
/// dlopen and dlsym, and says complete; everything recorded is reachable.
#[test]
fn modules_plugin_hosts_load_at_run_time_are_in_the_analysis() {
    for tool in [
        "/usr/bin/openssl",
        "/usr/sbin/iptables-legacy",
        "/usr/sbin/nginx",
    ] {
        assert!(
            Path::new(tool).is_file(),
            "{tool} is missing: install openssl, iptables and nginx-light (scripts/install-deps.sh test does)"
        );
    }
    let echo = "/usr/lib/nginx/modules/ngx_http_echo_module.so";
    assert!(
        Path::new(echo).is_file(),
        "{echo} is missing: install libnginx-mod-http-echo (nginx-light depends on it)"
    );
    let t = TempDir::new("analyze-plugins");
    let d = t.0.to_str().unwrap().to_string();
    std::fs::write(
        t.join("nginx.conf"),
        format!(
            "load_module {echo};\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 16; }}\n\
             http {{ access_log off; client_body_temp_path {d}/cb; proxy_temp_path {d}/pt; \
             fastcgi_temp_path {d}/ft; uwsgi_temp_path {d}/ut; scgi_temp_path {d}/st;\n\
             server {{ listen 127.0.0.1:1; location / {{ echo hi; }} }} }}\n"
        ),
    )
    .unwrap();
    let conf = format!("{d}/nginx.conf");
    let workloads: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "openssl",
            vec![
                "/usr/bin/openssl",
                "list",
                "-providers",
                "-provider",
                "legacy",
            ],
            "ossl-modules/legacy.so",
        ),
        (
            "iptables",
            vec!["/usr/sbin/iptables-legacy", "-m", "comment", "-h"],
            "xtables/libxt_comment.so",
        ),
        (
            "nginx",
            vec!["/usr/sbin/nginx", "-t", "-q", "-p", &d, "-c", &conf],
            "ngx_http_echo_module.so",
        ),
    ];
    for (tag, cmd, module) in workloads {
        let seen = record(&t.0, tag, &cmd);
        let out = assert_loads_what_the_run_opened(&t.0, tag, cmd[0], &seen, module, "");
        assert!(
            out.stderr.contains("covered by the rule for") && out.stderr.contains("plugins in"),
            "{tag}: no plugin rule said:\n{}",
            out.stderr
        );
    }
    // A host's own loader may pass a name on (Kerberos' krb5int_open_plugin, which libkrb5
    // and libgssapi call with paths they build): it is the host's, not a dlopen wrapper whose
    // callers' names would then be computed and uncovered. curl maps it through libcurl.
    let (_, out) = analyze(&t.0, "curl-krb5", &[], &["/usr/bin/curl"]);
    assert_complete("curl", &out);
    assert!(
        out.stderr
            .contains("covered by the rule for libkrb5support.so.0's plugins"),
        "{}",
        out.stderr
    );
}

/// Go's `panic` never returns to its caller: Go places the stack-growth tail (which jumps back
/// to the function's entry) right after a `call runtime.gopanic`. Were the call taken to
/// return, a frame of another depth would flow into the entry and every stack argument would
/// be lost: `syscall.Getuid`'s number, passed on the stack to `rawSyscallNoError`, with it.
#[test]
fn a_go_panic_does_not_return_to_its_caller() {
    let t = TempDir::new("analyze-go-panic");
    let prog = go_build(
        &t.0,
        "gopanic",
        r#"package main

import (
	"fmt"
	"os"
	"syscall"
)

//go:noinline
func f(xs []int, i int) int {
	var big [96]int
	uid := syscall.Getuid()
	for k := range big {
		big[k] = k * i
	}
	if i > 5 {
		panic(fmt.Sprint("too big", i))
	}
	return big[i%96] + uid + len(xs)
}

func main() {
	fmt.Println(f([]int{1, 2, 3}, len(os.Args)))
}
"#,
        false,
    );
    let (seen, _, _) = run_and_analyse(&t.0, "gopanic", "gopanic", &prog, &["--no-cache"]);
    assert!(
        seen.contains(&("x86_64".into(), "getuid".into())),
        "{seen:?}"
    );
}

/// An X server of the test's own (Xvfb, on a display number it picks), stopped when dropped;
/// the socket directory goes too if the server made it. Only clients holding its cookie
/// (`XAUTHORITY` = the file beside it) get in: no other user of the machine can connect to
/// it while the test runs.
struct Xvfb(std::process::Child, String, bool, PathBuf);

const X11_SOCKETS: &str = "/tmp/.X11-unix";

impl Xvfb {
    fn start(dir: &Path) -> Xvfb {
        use std::io::{BufRead, Read};
        // One Xauthority record, for any address and display (family FamilyWild, empty
        // address and number): every field a big-endian u16 length, then its bytes.
        let mut cookie = [0u8; 16];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut cookie))
            .unwrap();
        let mut record = 0xffffu16.to_be_bytes().to_vec();
        for field in [&b""[..], b"", b"MIT-MAGIC-COOKIE-1", &cookie] {
            record.extend((field.len() as u16).to_be_bytes());
            record.extend(field);
        }
        let auth = dir.join("Xauthority");
        std::fs::write(&auth, record).unwrap();
        let made_dir = !Path::new(X11_SOCKETS).exists();
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-auth",
                auth.to_str().unwrap(),
                "-nolisten",
                "tcp",
                "-screen",
                "0",
                "640x480x24",
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("Xvfb is missing: install xvfb (scripts/install-deps.sh test does)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let n = line.trim().to_string();
        assert!(!n.is_empty(), "Xvfb printed no display number");
        Xvfb(child, format!(":{n}"), made_dir, auth)
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SIGTERM: Xvfb removes its socket and lock file itself.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.0.wait();
        if self.2 {
            // Fails, harmlessly, if another server's socket is there now.
            let _ = std::fs::remove_dir(X11_SOCKETS);
        }
    }
}

/// libX11 loads libXcursor (themed cursors) from a name it shortens in place in a writable
/// buffer: a rule loads it. A real client against a real X server opens it; the analysis alone
/// is complete, says the rule, and reads the same objects as with the run's libraries.
#[test]
fn libx11_loads_libxcursor_by_rule() {
    let t = TempDir::new("analyze-x11");
    // Declared here, linked against the runtime library: no development package needed.
    let prog = cc(
        &t.0,
        "cursor",
        "#include <stdio.h>\ntypedef struct _XDisplay Display;\n\
         extern Display *XOpenDisplay(const char *);\n\
         extern unsigned long XCreateFontCursor(Display *, unsigned int);\n\
         extern int XSync(Display *, int);\nextern int XCloseDisplay(Display *);\n\
         int main(void){Display*d=XOpenDisplay(0);if(!d)return 2;\n\
         unsigned long c=XCreateFontCursor(d,68);XSync(d,0);\n\
         printf(\"%s\\n\",c?\"cursor\":\"none\");XCloseDisplay(d);return 0;}\n",
        &["-O2", "/usr/lib/x86_64-linux-gnu/libX11.so.6"],
    );
    let p = prog.to_str().unwrap();
    let x = Xvfb::start(&t.0);
    // Without the cookie the server turns a client away.
    let refused = Command::new(p)
        .env("DISPLAY", &x.1)
        .env_remove("XAUTHORITY")
        .output()
        .unwrap();
    assert_eq!(
        refused.status.code(),
        Some(2),
        "a client without the cookie got in"
    );
    let seen = record_with(
        &t.0,
        "cursor",
        &[p],
        &[("DISPLAY", &x.1), ("XAUTHORITY", x.3.to_str().unwrap())],
    );
    drop(x);
    let out = assert_loads_what_the_run_opened(
        &t.0,
        "cursor",
        p,
        &seen,
        "libXcursor.so.1",
        " (install libxcursor1: scripts/install-deps.sh test does)",
    );
    assert!(
        out.stderr
            .contains("covered by the rule for libX11.so.6's plugins libXcursor.so.1"),
        "{}",
        out.stderr
    );
}

/// A `dlopen` wrapper — a helper passing its parameter on as the library's name, as systemd's
/// `dlopen_many_sym_or_warn` does — two levels deep: the name is read at the call sites, the
/// library analysed, the result complete.
#[test]
fn a_dlopen_wrapper_is_resolved_at_its_call_sites() {
    let t = TempDir::new("analyze-dlwrap");
    // noipa: no clone of the helpers specialised to the constant (which would call dlopen
    // with it directly).
    let prog = cc(
        &t.0,
        "dlwrap",
        "#include <dlfcn.h>\n#include <stdio.h>\n\
         __attribute__((noipa)) void *load(int flags, const char *name){return dlopen(name, flags);}\n\
         __attribute__((noipa)) void *load_now(const char *name){return load(RTLD_NOW, name);}\n\
         int main(void){void*h=load_now(\"libz.so.1\");if(!h)return 1;\n\
         const char*(*v)(void)=(const char*(*)(void))dlsym(h,\"zlibVersion\");\n\
         printf(\"%s\\n\",v());return 0;}\n",
        &["-O2"],
    );
    let p = prog.to_str().unwrap();
    let seen = record(&t.0, "dlwrap", &[p]);
    assert_loads_what_the_run_opened(&t.0, "dlwrap", p, &seen, "libz.so.1", " (install zlib1g)");
}

/// `dlopen` searches from the object that calls it, as the loader does: that object's
/// DT_RUNPATH (here `$ORIGIN/lib`, where nothing else would look), before the cache and the
/// default directories. The plugin's syscall (membarrier, made nowhere else) must be found.
#[test]
fn a_dlopen_finds_its_library_on_the_callers_runpath() {
    let t = TempDir::new("analyze-dlopen-runpath");
    let lib = t.0.join("lib");
    std::fs::create_dir(&lib).unwrap();
    membarrier_library(&lib, "libsyscageplug.so", "plug");
    let prog = cc(
        &t.0,
        "runpath",
        &opens_the_plug("", "dlopen(\"libsyscageplug.so\",RTLD_NOW)"),
        &["-O2", "-Wl,--enable-new-dtags,-rpath,$ORIGIN/lib"],
    );
    assert_the_plug_is_found(&t.0, "runpath", &prog);
}

/// A shared library `file` in `dir` whose function `func` makes membarrier: a syscall no other
/// part of these tests' programs makes.
fn membarrier_library(dir: &Path, file: &str, func: &str) -> PathBuf {
    let src = format!(
        "#include <unistd.h>\n#include <sys/syscall.h>\n\
         long {func}(void){{return syscall(SYS_membarrier, 0, 0);}}\n"
    );
    cc(dir, file, &src, &["-O2", "-shared", "-fPIC"])
}

/// A program (its includes and declarations `head`) that gets libsyscageplug.so's handle by
/// `open` and calls its `plug`; exit status 1 when the library cannot be opened.
fn opens_the_plug(head: &str, open: &str) -> String {
    format!(
        "{head}#include <dlfcn.h>\n#include <stdio.h>\n\
         int main(void){{void*h={open};if(!h)return 1;\n\
         long(*f)(void)=(long(*)(void))dlsym(h,\"plug\");printf(\"%ld\\n\",f());return 0;}}\n"
    )
}

/// `program` (from `opens_the_plug`) run: it made the plug's membarrier, and the analysis
/// alone reads libsyscageplug.so as the run did.
fn assert_the_plug_is_found(dir: &Path, tag: &str, program: &Path) {
    let p = program.to_str().unwrap();
    let seen = record(dir, tag, &[p]);
    assert!(
        seen.contains(&("x86_64".to_string(), "membarrier".to_string())),
        "the run should have made membarrier through the plugin: {seen:?}"
    );
    assert_loads_what_the_run_opened(dir, tag, p, &seen, "libsyscageplug.so", "");
}

/// A name passed to a `dlopen` wrapper in a library is opened from the library: the loader
/// searches the wrapper's DT_RUNPATH (here `$ORIGIN/plugins`, the program's own RUNPATH
/// does not lead there), as the analysis must.
#[test]
fn a_dlopen_through_a_wrapper_finds_its_library_on_the_wrappers_runpath() {
    let t = TempDir::new("analyze-dlopen-wrapper-runpath");
    let lib = t.0.join("lib");
    let plugins = lib.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    membarrier_library(&plugins, "libsyscageplug.so", "plug");
    cc(
        &lib,
        "libsyscagewrap.so",
        "#include <dlfcn.h>\n\
         __attribute__((noipa)) void *load(const char *name){return dlopen(name, RTLD_NOW);}\n",
        // No tail call: glibc takes the object dlopen returns to for the caller (a wrapper
        // that jumps to dlopen has its caller's search path).
        &[
            "-O2",
            "-fno-optimize-sibling-calls",
            "-shared",
            "-fPIC",
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN/plugins",
        ],
    );
    let l = format!("-L{}", lib.display());
    let prog = cc(
        &t.0,
        "wrapped",
        &opens_the_plug(
            "extern void *load(const char *);\n",
            "load(\"libsyscageplug.so\")",
        ),
        &[
            "-O2",
            &l,
            "-lsyscagewrap",
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN/lib",
        ],
    );
    assert_the_plug_is_found(&t.0, "wrapped", &prog);
}

/// The program's DT_RPATH is searched for the libraries of every object without a DT_RUNPATH,
/// its `$ORIGIN` the program's directory: a library needed by a library (here libinner, needed
/// by libouter, both in `$ORIGIN/lib` of the program) is found there, as the loader finds it.
#[test]
fn the_programs_rpath_origin_is_its_own_directory_for_every_library() {
    let t = TempDir::new("analyze-rpath-origin");
    let lib = t.0.join("lib");
    std::fs::create_dir(&lib).unwrap();
    membarrier_library(&lib, "libsyscageinner.so", "inner");
    let l = format!("-L{}", lib.display());
    cc(
        &lib,
        "libsyscageouter.so",
        "extern long inner(void);\nlong outer(void){return inner();}\n",
        &["-O2", "-shared", "-fPIC", &l, "-lsyscageinner"],
    );
    let link = format!("-Wl,-rpath-link,{}", lib.display());
    let prog = cc(
        &t.0,
        "rpath",
        "#include <stdio.h>\nextern long outer(void);\n\
         int main(void){printf(\"%ld\\n\",outer());return 0;}\n",
        &[
            "-O2",
            &l,
            "-lsyscageouter",
            &link,
            "-Wl,--disable-new-dtags,-rpath,$ORIGIN/lib",
        ],
    );
    let what = "a program whose RPATH finds its libraries' libraries";
    let (_, reach, out) = run_and_analyse(&t.0, "rpath", what, &prog, &[]);
    assert!(
        reach.contains(&("x86_64".to_string(), "membarrier".to_string())),
        "libsyscageinner's membarrier: {}",
        out.stderr
    );
}

/// libseccomp finds seccomp's number by name at run time and keeps it in a variable: no
/// constant reaches its `syscall()` calls. They are seccomp by rule, and the result complete.
#[test]
fn libseccomp_finds_seccomp_by_name_and_its_calls_count_as_seccomp() {
    let t = TempDir::new("analyze-libseccomp");
    let prog = cc(
        &t.0,
        "filter",
        "#include <errno.h>\n#include <seccomp.h>\n#include <stdio.h>\n#include <sys/utsname.h>\n\
         int main(void){scmp_filter_ctx c=seccomp_init(SCMP_ACT_ALLOW);\n\
         if(!c||seccomp_rule_add(c,SCMP_ACT_ERRNO(EPERM),SCMP_SYS(uname),0)||seccomp_load(c))return 1;\n\
         struct utsname u;printf(\"%s\\n\",uname(&u)?\"denied\":\"allowed\");return 0;}\n",
        &["-O2", "-lseccomp"],
    );
    let p = prog.to_str().unwrap();
    let plain = run_command(Command::new(p));
    assert_eq!(
        (plain.code, plain.stdout.as_str()),
        (0, "denied\n"),
        "the filter program: {}",
        plain.stderr
    );
    let (seen, _, out) = run_and_analyse(&t.0, "filter", "a libseccomp filter", &prog, &[]);
    assert!(
        seen.contains(&("x86_64".to_string(), "seccomp".to_string())),
        "the recording should hold seccomp: {seen:?}"
    );
    assert!(
        out.stderr.contains("resolved by rule: ") && out.stderr.contains("libseccomp.so.2"),
        "{}",
        out.stderr
    );
}

/// `dlopen(NULL)` is the program's own handle: it loads nothing, so it does not make the
/// result incomplete; a constant name looked up in it is reachable.
#[test]
fn dlopen_of_null_loads_nothing_and_leaves_the_result_complete() {
    let t = TempDir::new("analyze-dlopen-null");
    let prog = cc(
        &t.0,
        "self",
        "#include <dlfcn.h>\nint main(void){void*h=dlopen(0,RTLD_NOW);if(!h)return 1;int(*f)(int)=(int(*)(int))dlsym(h,\"syncfs\");return f?f(0)!=0:1;}\n",
        &["-O2"],
    );
    let (_, reach, out) = run_and_analyse(&t.0, "self", "dlopen(NULL)", &prog, &[]);
    assert!(
        reach.contains(&("x86_64".to_string(), "syncfs".to_string())),
        "{}",
        out.stderr
    );
}

/// The GNU build-id of an ELF file, in hex (`readelf -n`).
fn build_id(file: &Path) -> String {
    let mut c = Command::new("readelf");
    c.arg("-n").arg(file);
    let out = run_command(c);
    out.stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: "))
        .unwrap_or_else(|| panic!("no build-id in {}: {}", file.display(), out.stdout))
        .to_string()
}

/// A function pointer held in a data object counts only once code that runs refers to that
/// object, where the program's debug file (found by build-id under the root, where Debian's
/// `-dbg` packages put it) gives its data objects' bounds; without it every pointer in data
/// counts. A stripped and an unstripped build give one result either way, and the program
/// runs under the profile analysed with the bounds.
#[test]
fn a_function_table_no_running_code_refers_to_counts_only_without_bounds() {
    let t = TempDir::new("analyze-bounds");
    let src = r#"
static long sys(long n) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "0"(n) : "rcx", "r11", "memory");
    return r;
}
static long used_op(void) { return sys(110); }   /* getppid */
static long unused_op(void) { return sys(312); } /* kcmp */
/* Tables of a few words, as real ones are: a reference within 16 bytes of an object's
   bounds counts for it too (a folded offset such as `table - 8`). */
struct ops { long (*run)(void); const char *name; long flags[4]; };
const struct ops used = { used_op, "used" };
const struct ops unused = { unused_op, "unused" };
__attribute__((noipa)) const struct ops *pick(void) { return &used; }
int main(void) { return pick()->run() > 0 ? 0 : 1; }
"#;
    let full = cc(&t.0, "table", src, &["-O2", "-g", "-fPIE", "-pie"]);
    let root = t.join("root");
    for (host, inside) in [
        ("/lib64/ld-linux-x86-64.so.2", "lib64/ld-linux-x86-64.so.2"),
        (
            "/lib/x86_64-linux-gnu/libc.so.6",
            "lib/x86_64-linux-gnu/libc.so.6",
        ),
    ] {
        let to = root.join(inside);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(host, &to).unwrap();
    }
    std::fs::copy(&full, root.join("full")).unwrap();
    std::fs::copy(&full, root.join("stripped")).unwrap();
    let mut s = Command::new("strip");
    s.arg(root.join("stripped"));
    run_command(s).assert_code(0);
    let in_root = |tag: &str, prog: &str| {
        let (_, out) = analyze(
            &t.0,
            tag,
            &["--no-cache", "--root", root.to_str().unwrap()],
            &[prog],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        (sited(&t.join(&format!("{tag}.analysis"))), out.stderr)
    };
    let (unbounded, err) = in_root("unbounded", "/stripped");
    assert!(
        unbounded.contains("getppid") && unbounded.contains("kcmp"),
        "no bounds: every function pointer in data is taken: {unbounded:?}\n{err}"
    );
    assert_eq!(in_root("unbounded-full", "/full").0, unbounded);

    // Its debug file, where Debian's packages put one.
    let id = build_id(&full);
    let dir = root.join(format!("usr/lib/debug/.build-id/{}", &id[..2]));
    std::fs::create_dir_all(&dir).unwrap();
    let mut c = Command::new("objcopy");
    c.arg("--only-keep-debug")
        .arg(&full)
        .arg(dir.join(format!("{}.debug", &id[2..])));
    run_command(c).assert_code(0);
    let (bounded, err) = in_root("bounded", "/stripped");
    assert!(
        bounded.contains("getppid") && !bounded.contains("kcmp"),
        "with bounds, `unused` is no code's: {bounded:?}\n{err}"
    );
    assert_eq!(in_root("bounded-full", "/full").0, bounded);
    // The evidence names the object holding the pointer and the code that refers to it.
    let out = syscage_args(&[
        "analyze",
        "--no-cache",
        "--root",
        root.to_str().unwrap(),
        "--explain",
        "getppid",
        "/full",
    ]);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("held in the data object at")
            && said.contains("which pick (/full) refers to"),
        "{said}"
    );

    // The table code does refer to is followed: the program runs under that profile.
    let prof = t.join("bounded.json");
    let out = syscage_args(&[
        "analyze",
        "--no-cache",
        "--root",
        root.to_str().unwrap(),
        "-o",
        prof.to_str().unwrap(),
        "/stripped",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let run = syscage_args(&[
        "run",
        "--seccomp",
        prof.to_str().unwrap(),
        "--",
        full.to_str().unwrap(),
    ]);
    assert_eq!(
        run.code, 0,
        "getppid denied under the profile: {}",
        run.stderr
    );
}

/// An object is already loaded under its DT_SONAME, not only its file's name: a `dlopen` of
/// `libsyscageplug.so.1` (the soname of `libsyscageplug.so.1.0`, which the program needs) from
/// a library with no search path of its own finds the loaded one, as the loader does; the
/// analysis opens it too (its exports become roots, as a dlopen'd library's are).
#[test]
fn a_dlopen_finds_a_loaded_library_by_its_soname() {
    let t = TempDir::new("analyze-dlopen-soname");
    let lib = t.0.join("lib");
    std::fs::create_dir(&lib).unwrap();
    let src = "#include <unistd.h>\n#include <sys/syscall.h>\n\
               long plug(void){return syscall(SYS_membarrier, 0, 0);}\n";
    cc(
        &lib,
        "libsyscageplug.so.1.0",
        src,
        &["-O2", "-shared", "-fPIC", "-Wl,-soname,libsyscageplug.so.1"],
    );
    std::os::unix::fs::symlink("libsyscageplug.so.1.0", lib.join("libsyscageplug.so.1")).unwrap();
    std::os::unix::fs::symlink("libsyscageplug.so.1", lib.join("libsyscageplug.so")).unwrap();
    cc(
        &lib,
        "libsyscageopen.so",
        "#include <dlfcn.h>\nvoid *open_plug(void){void *h=dlopen(\"libsyscagenowhere.so\", RTLD_NOW);\n\
         return h?h:dlopen(\"libsyscageplug.so.1\", RTLD_NOW);}\n",
        &["-O2", "-shared", "-fPIC"],
    );
    let l = format!("-L{}", lib.display());
    let prog = cc(
        &t.0,
        "soname",
        &opens_the_plug("extern void *open_plug(void);\n", "open_plug()"),
        &[
            "-O2",
            &l,
            // Needed although nothing calls it: loaded before the dlopen.
            "-Wl,--no-as-needed",
            "-lsyscageopen",
            "-lsyscageplug",
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN/lib",
        ],
    );
    let p = prog.to_str().unwrap();
    let run = run_command(Command::new(p));
    assert_eq!(run.code, 0, "the loader finds it by soname: {}", run.stderr);
    let (set, out) = analyze(&t.0, "soname", &["--no-cache"], &[p]);
    assert_complete("a dlopen of a loaded library's soname", &out);
    assert!(
        out.stderr
            .contains("loaded by rule, dlopen(\"libsyscageplug.so.1\"): "),
        "the dlopen finds the loaded library: {}",
        out.stderr
    );
    assert!(
        set.contains(&("x86_64".into(), "membarrier".into())),
        "{}",
        out.stderr
    );
    // A name found nowhere is said, not dropped (the run's dlopen fails alike).
    assert!(
        out.stderr
            .contains("dlopen(\"libsyscagenowhere.so\") (from ")
            && out
                .stderr
                .contains("not found in the root where the loader looks"),
        "{}",
        out.stderr
    );
}
