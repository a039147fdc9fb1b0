//! `record` follows the whole workload, not just its first process: background jobs and
//! daemons that fork away from it are recorded until the last process exits (like `strace -f`),
//! SIGTERM to syscage still ends them and writes the profile, and `--until first` gives the
//! container semantics and says what it stopped.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const BACKGROUNDED: &str =
    "(sleep 1; python3 -c 'import socket; socket.socket(socket.AF_INET6)') & exit 0";

#[test]
fn a_background_job_that_outlives_the_first_process_is_recorded() {
    for backend in ["notify", "ptrace"] {
        let dir = TempDir::new("bg");
        let profile = dir.join("p.json");
        let rec = dir.join("p.rec");
        let mut c = clean_command(syscage());
        c.args(["record", "--backend", backend, "-o"])
            .arg(&profile)
            .arg("--recording")
            .arg(&rec)
            .args(["--", "sh", "-c", BACKGROUNDED]);
        let t = Instant::now();
        let out = run_command(c);
        out.assert_code(0);
        assert!(
            t.elapsed() >= Duration::from_secs(1),
            "{backend}: returned before the background job ended"
        );
        assert!(
            allowed_names(&profile).contains("socket"),
            "{backend}: the background python's socket() is missing: {}",
            out.stderr
        );
        assert!(
            recorded_names(&rec).contains(&("x86_64".into(), "socket".into())),
            "{backend}"
        );
        // Why it goes on: said on stderr (the subshell may have forked its sleep already).
        assert!(
            out.stderr
                .contains("first process exited with status 0; recording the")
                && out.stderr.contains("it left until"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn until_first_stops_the_rest_and_says_so() {
    let dir = TempDir::new("bgfirst");
    let profile = dir.join("p.json");
    let mut c = clean_command(syscage());
    c.args(["record", "--until", "first", "-o"])
        .arg(&profile)
        .args(["--", "sh", "-c", &BACKGROUNDED.replace("exit 0", "exit 3")]);
    let out = run_command(c);
    out.assert_code(3);
    // The subshell, and its sleep if it has forked it already.
    assert!(
        out.stderr.contains("stopped 1 process still running")
            || out.stderr.contains("stopped 2 processes still running"),
        "{}",
        out.stderr
    );
    assert!(!allowed_names(&profile).contains("socket"));
}

#[test]
fn sigterm_ends_a_recorded_background_job_and_writes_the_profile() {
    let dir = TempDir::new("bgterm");
    let profile = dir.join("p.json");
    let marker = format!("{}", 300000 + std::process::id() % 100000);
    let _cleanup = KillOnDrop(marker.clone());
    let mut c = clean_command(syscage());
    c.args(["record", "-o"]).arg(&profile).args([
        "--",
        "sh",
        "-c",
        &format!("sleep {marker} & exit 5"),
    ]);
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    wait_for_process_with_arg(&marker, false, "the background sleep never started");
    std::thread::sleep(Duration::from_millis(100));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = finish(child);
    // The first process's status, not the killed job's.
    out.assert_code(5);
    assert!(allowed_names(&profile).contains("clock_nanosleep"));
    assert!(!host_has_process_with_arg(&marker));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An nginx configuration whose every file lives under `dir`, serving `dir/www` on `port`.
fn nginx_conf(dir: &Path, port: u16) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(dir.join("www/index.html"), "hello from nginx\n").unwrap();
    for p in [dir, &dir.join("www")] {
        // Written by the sandbox's mapped root (an unprivileged host uid) under `syscage run`.
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let d = dir.display();
    let conf = format!(
        "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nworker_processes 2;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n  \
         proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  \
         scgi_temp_path {d}/scgi;\n  server {{ listen 127.0.0.1:{port}; root {d}/www; }}\n}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

/// `curl` the page, retrying until the server answers (10 s at most); `log` is shown on failure.
fn fetch(port: u16, log: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "2"])
            .arg(format!("http://127.0.0.1:{port}/"))
            .output()
            .expect("curl (install the Debian package curl; .ci/run does)");
        if out.status.success() {
            return String::from_utf8_lossy(&out.stdout).into_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no answer on port {port}: {}\n{}:\n{}",
            String::from_utf8_lossy(&out.stderr),
            log.display(),
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn nginx() -> &'static str {
    assert!(
        Path::new("/usr/sbin/nginx").is_file(),
        "/usr/sbin/nginx is missing: install the Debian package nginx-light (.ci/run does)"
    );
    "/usr/sbin/nginx"
}

fn stop(child: &std::process::Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
}

/// nginx with `daemon on`: its first process forks the master and exits at once. The whole
/// server is recorded while curl drives it, SIGTERM to syscage stops it and writes the profile,
/// and that profile then serves the page under `syscage run`.
#[test]
fn a_daemonizing_nginx_is_recorded_whole_and_serves_under_its_profile() {
    let dir = TempDir::new("nginx");
    let profile = dir.join("nginx.json");
    let rec_dir = dir.join("record");
    let port = free_port();
    let conf = nginx_conf(&rec_dir, port);
    let mut c = clean_command(syscage());
    c.args(["record", "-o"])
        .arg(&profile)
        .args(["--", nginx(), "-e"])
        .arg(rec_dir.join("error.log"))
        .arg("-c")
        .arg(&conf)
        .args(["-g", "daemon on;"]);
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let recording = c.spawn().unwrap();
    assert_eq!(
        fetch(port, &rec_dir.join("error.log")),
        "hello from nginx\n"
    );
    assert!(
        !profile.exists(),
        "the recording must go on after nginx's first process exited"
    );
    stop(&recording);
    let out = finish(recording);
    out.assert_code(0);
    let allowed = allowed_names(&profile);
    // Made only after the daemon's fork: by the daemon (setsid) and its workers (accept4).
    for n in ["setsid", "accept4", "epoll_wait"] {
        assert!(allowed.contains(n), "{n} missing from {allowed:?}");
    }

    // The profile serves the same server (in the foreground: `run` ends with its first
    // process). nginx's master needs what Docker grants by default to switch its workers'
    // user, hand them its temp dirs and stop them.
    let run_dir = dir.join("run");
    let conf = nginx_conf(&run_dir, port);
    let mut c = clean_command(syscage());
    c.args(["run", "--seccomp"])
        .arg(&profile)
        .args([
            "--cap-add",
            "SETUID",
            "--cap-add",
            "SETGID",
            "--cap-add",
            "KILL",
            "--cap-add",
            "CHOWN",
            "--rw",
        ])
        .arg(&run_dir)
        .args(["--", nginx(), "-e"])
        .arg(run_dir.join("error.log"))
        .arg("-c")
        .arg(&conf)
        .args(["-g", "daemon off;"]);
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let server = c.spawn().unwrap();
    assert_eq!(
        fetch(port, &run_dir.join("error.log")),
        "hello from nginx\n"
    );
    stop(&server);
    let out = finish(server);
    let log = std::fs::read_to_string(run_dir.join("error.log")).unwrap_or_default();
    assert_eq!(out.code, 0, "{}\nerror.log:\n{log}", out.stderr);
    assert!(
        !log.contains("[emerg]") && !log.contains("[alert]"),
        "nginx under its profile: {log}"
    );
}
