//! `syscage agent` with crun and runc: `oci apply --agent` routes the syscalls a profile does not
//! list to the agent, which reports them (monitor) or lets them through and writes a delta per
//! container (learn); the merged profile then runs the container enforced. What happens when the
//! agent is down or dies, and 20 containers violating at once through one agent.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A bundle running `/bin/probe ARGS` with no seccomp yet.
fn probe_bundle(runtime: &'static str, probe_args: &[&str]) -> Bundle {
    let dir = TempDir::new("agentopen");
    let open = dir.join("open.json");
    std::fs::write(&open, r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
    let mut args = vec!["/bin/probe".to_string()];
    args.extend(probe_args.iter().map(|s| s.to_string()));
    let bundle = Bundle::new(runtime, &args, &open, false);
    std::fs::copy(probe(), bundle.dir.join("rootfs/bin/probe")).unwrap();
    bundle
}

/// The profile of `probe ARGS` as recorded on the host for `runtime`.
fn record_probe(dir: &TempDir, runtime: &str, probe_args: &[&str]) -> PathBuf {
    let p = dir.join(&format!("{runtime}.json"));
    let mut c = clean_command(syscage());
    c.args(["record", "-q", "--runtime", runtime, "-o"])
        .arg(&p)
        .arg("--")
        .arg(probe())
        .args(probe_args);
    run_command(c).assert_code(0);
    p
}

fn apply(bundle: &Bundle, profile: &Path, agent: Option<(&Path, &str)>) {
    apply_dir(bundle.dir.path(), profile, agent);
}

fn apply_dir(bundle: &Path, profile: &Path, agent: Option<(&Path, &str)>) {
    let mut c = clean_command(syscage());
    c.args(["oci", "apply", "--bundle"])
        .arg(bundle)
        .arg("--seccomp")
        .arg(profile);
    if let Some((sock, mode)) = agent {
        c.arg("--agent").arg(sock).arg(mode);
    }
    run_command(c).assert_code(0);
}

/// The agent's socket, event file and learn directory beneath `dir`.
fn agent_paths(dir: &TempDir) -> (PathBuf, PathBuf, PathBuf) {
    (
        dir.join("agent.sock"),
        dir.join("ev.jsonl"),
        dir.join("learn"),
    )
}

/// A running agent, stopped (SIGTERM) and waited for on drop.
struct Agent {
    child: Option<Child>,
    socket: PathBuf,
}

impl Agent {
    fn start(socket: &Path, events: &Path, learn: &Path) -> Agent {
        let mut c = Command::new(syscage());
        c.args(["agent", "--socket"])
            .arg(socket)
            .arg("--monitor")
            .arg(events)
            .arg("--learn")
            .arg(learn);
        Agent::spawn(c, socket)
    }

    /// Starts `agent` (a `syscage agent --socket SOCKET ...` command) and waits until it listens.
    fn spawn(mut agent: Command, socket: &Path) -> Agent {
        let child = agent
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(socket).is_err() {
            assert!(Instant::now() < deadline, "the agent did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Agent {
            child: Some(child),
            socket: socket.to_path_buf(),
        }
    }

    /// SIGTERM; returns its stderr.
    fn stop(&mut self) -> String {
        let child = self.child.take().unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let out = finish(child);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(!self.socket.exists(), "the agent removes its socket");
        out.stderr
    }

    fn kill(&mut self) {
        let mut child = self.child.take().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.kill();
        }
    }
}

fn events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn crun_and_runc_monitor_learn_and_heal_through_the_agent() {
    for runtime in ["crun", "runc"] {
        let dir = TempDir::new("agent");
        let (sock, ev, learn) = agent_paths(&dir);
        // A: getppid. B: personality, which a profile recorded from A does not list.
        let p = record_probe(&dir, runtime, &["syscall", "getppid"]);
        let enforced = probe_bundle(runtime, &["syscall", "getppid", "personality"]);
        apply(&enforced, &p, None);
        let out = enforced.run();
        assert_eq!(out.assert_code(0).line("personality"), "personality: EPERM");

        let mut agent = Agent::start(&sock, &ev, &learn);
        // Monitor: still denied, and reported with the container's id.
        let b = probe_bundle(runtime, &["syscall", "getppid", "personality"]);
        apply(&b, &p, Some((&sock, "--monitor")));
        let out = b.run();
        assert_eq!(
            out.assert_code(0).line("getppid"),
            "getppid: ok",
            "{runtime}"
        );
        assert_eq!(out.line("personality"), "personality: EPERM", "{runtime}");
        // Learn: allowed; the delta (named by the container id) holds exactly what was missing.
        let l = probe_bundle(runtime, &["syscall", "getppid", "personality"]);
        apply(&l, &p, Some((&sock, "--learn")));
        let out = l.run();
        assert_eq!(
            out.assert_code(0).line("personality"),
            "personality: ok",
            "{runtime}"
        );
        let delta = learn.join(format!("{}.rec", l.id));
        wait_for(&delta);
        let learned: BTreeSet<String> =
            recorded_names(&delta).into_iter().map(|(_, n)| n).collect();
        assert_eq!(
            learned,
            BTreeSet::from(["personality".to_string()]),
            "{runtime}"
        );
        let stderr = agent.stop();
        assert!(
            stderr.contains(&format!("serving container {}", b.id)),
            "{stderr}"
        );
        // Its end is logged too, with what was routed.
        assert!(
            stderr.contains(&format!(
                "container {} ended: 1 call routed to the agent",
                b.id
            )),
            "{stderr}"
        );

        let ev = events(&ev);
        let first: Vec<_> = ev
            .iter()
            .filter(|e| e["event"] == "first" && e["id"] == b.id.as_str())
            .collect();
        assert_eq!(first.len(), 1, "{runtime}: {ev:?}");
        assert_eq!(first[0]["syscall"], "personality");
        assert_eq!(first[0]["action"], "errno 1 (EPERM)");
        // The container's process as its own logs name it: its init, pid 1 in there.
        assert_eq!(first[0]["nspid"], 1, "{runtime}: {}", first[0]);
        assert_ne!(first[0]["pid"], 1);
        assert!(
            first[0]["executable"]
                .as_str()
                .unwrap()
                .ends_with("/bin/probe")
        );
        assert!(
            ev.iter()
                .any(|e| e["id"] == l.id.as_str() && e["action"] == "allowed (learn)")
        );

        // Healed: the merged profile runs B enforced, with no agent.
        let p2 = dir.join("p2.json");
        let mut c = clean_command(syscage());
        c.arg("merge").arg(&p).arg(&delta).arg("-o").arg(&p2);
        run_command(c).assert_code(0);
        let healed = probe_bundle(runtime, &["syscall", "getppid", "personality"]);
        apply(&healed, &p2, None);
        let out = healed.run();
        assert_eq!(
            out.assert_code(0).line("personality"),
            "personality: ok",
            "{runtime}"
        );
    }
}

#[test]
fn without_the_agent_containers_do_not_start_and_routed_calls_fail_after_it_dies() {
    let runtime = "crun";
    let dir = TempDir::new("agentdown");
    let (sock, ev, learn) = agent_paths(&dir);
    let p = record_probe(&dir, runtime, &["after", "0", "getppid"]);
    // Nobody listens: the runtime cannot hand the listener over and refuses to start.
    let b = probe_bundle(runtime, &["after", "0", "personality"]);
    apply(&b, &p, Some((&sock, "--learn")));
    let out = b.run();
    assert_ne!(out.code, 0, "started without its agent: {}", out.stdout);
    assert!(!out.stdout.contains("personality"), "{}", out.stdout);

    // The agent dies while the container runs: its routed syscall fails (ENOSYS), it is not
    // allowed, although the container was in learn mode.
    let mut agent = Agent::start(&sock, &ev, &learn);
    let b = probe_bundle(runtime, &["after", "1500", "personality"]);
    apply(&b, &p, Some((&sock, "--learn")));
    let child = {
        let mut c = b.command();
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c.spawn().unwrap()
    };
    std::thread::sleep(Duration::from_millis(500));
    agent.kill();
    let out = finish(child);
    assert_eq!(
        out.assert_code(0).line("personality"),
        "personality: ENOSYS"
    );

    // A restarted agent (its dead predecessor's socket replaced) serves new containers.
    let mut agent = Agent::start(&sock, &ev, &learn);
    let b = probe_bundle(runtime, &["after", "0", "personality"]);
    apply(&b, &p, Some((&sock, "--learn")));
    assert_eq!(
        b.run().assert_code(0).line("personality"),
        "personality: ok"
    );
    agent.stop();
}

#[test]
fn twenty_containers_violating_at_once_through_one_agent() {
    let runtime = "crun";
    let dir = TempDir::new("agentload");
    let (sock, ev, learn) = agent_paths(&dir);
    let p = record_probe(&dir, runtime, &["repeat", "3", "getppid"]);
    let mut agent = Agent::start(&sock, &ev, &learn);
    let bundles: Vec<Bundle> = (0..20)
        .map(|_| {
            let b = probe_bundle(runtime, &["repeat", "10000", "personality"]);
            apply(&b, &p, Some((&sock, "--monitor")));
            b
        })
        .collect();
    let started = Instant::now();
    let children: Vec<Child> = bundles
        .iter()
        .map(|b| {
            let mut c = b.command();
            c.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    for child in children {
        let out = finish(child);
        assert_eq!(
            out.assert_code(0).stdout.trim(),
            "personality x10000: EPERM x10000"
        );
    }
    let took = started.elapsed();
    agent.stop();
    let ev = events(&ev);
    for b in &bundles {
        let total: Vec<_> = ev
            .iter()
            .filter(|e| e["id"] == b.id.as_str() && e["event"] == "total")
            .collect();
        assert_eq!(total.len(), 1, "{}", b.id);
        assert_eq!(total[0]["count"], 10000, "exact count for {}", b.id);
    }
    // Bounded: per container a first line, a repeat per second at most, a total.
    let bound = 20 * (2 + took.as_secs() as usize + 1);
    assert!(ev.len() <= bound, "{} lines for {took:?}", ev.len());
    eprintln!(
        "20 x 10,000 violations through one agent: {took:?}, {} event lines",
        ev.len()
    );
}

/// Rootless: crun and the agent run as an ordinary user (crun through `scripts/cgroup2-ns.sh`,
/// which only fixes this hybrid-cgroup host's mount view, then drops to the user). Learning from
/// a profile holding only crun's base set records the whole container — no root, no ptrace —
/// and the merged profile then runs it, rootless and enforced.
#[test]
fn a_rootless_crun_learns_through_a_rootless_agent() {
    let user = TestUser::new(true);
    let dir = TempDir::new("agentrl");
    let d = dir.path().to_path_buf();
    let root = d.join("b/rootfs");
    for sub in ["bin", "proc", "dev", "usr", "tmp"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    std::fs::copy(busybox(), root.join("bin/busybox")).unwrap();
    std::fs::copy(probe(), root.join("bin/probe")).unwrap();
    std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
    std::os::unix::fs::symlink("usr/lib64", root.join("lib64")).unwrap();
    let chown_all = || {
        let out = Command::new("chown")
            .args(["-R", &user.name])
            .arg(&d)
            .output()
            .unwrap();
        assert!(out.status.success());
    };
    chown_all();
    let as_user = |args: &[&str]| {
        let mut c = Command::new("runuser");
        c.args(["-u", &user.name, "--"]).args(args).current_dir(&d);
        c
    };
    let out = run_command({
        let mut c = as_user(&["crun", "spec", "--rootless"]);
        c.current_dir(d.join("b"));
        c
    });
    out.assert_code(0);
    let cfg_path = d.join("b/config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    let args = ["/bin/probe", "syscall", "getppid", "personality"].map(String::from);
    run_from_busybox_root(&mut cfg, &args);
    std::fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    let p = d.join("base.json");
    let mut c = clean_command(syscage());
    c.args(["generate", "base", "--runtime", "crun", "-o"])
        .arg(&p);
    run_command(c).assert_code(0);
    let bundle_dir = d.join("b");
    let sock = d.join("agent.sock");
    apply_dir(&bundle_dir, &p, Some((&sock, "--learn")));
    chown_all();

    let (ev, learn) = (d.join("ev.jsonl"), d.join("learn"));
    let rootless_agent = |extra: &[&str]| {
        let mut args = vec![user.syscage(), "agent".into(), "--socket".into()];
        args.push(sock.display().to_string());
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Agent::spawn(as_user(&args), &sock)
    };
    // A crun container run by the user (the host's cgroup view fixed by cgroup2-ns.sh).
    let run_rootless = |id: &str| {
        let mut c = Command::new(cgroup2_ns());
        c.args(["runuser", "-u", &user.name, "--", "crun", "--root"])
            .arg(d.join("state"))
            .args(["--cgroup-manager=disabled", "run", "-b"])
            .arg(&bundle_dir)
            .arg(id)
            .current_dir(&d);
        run_command(c)
    };
    let mut agent = rootless_agent(&[
        "--monitor",
        ev.to_str().unwrap(),
        "--learn",
        learn.to_str().unwrap(),
    ]);
    let id = unique("rl");
    let out = run_rootless(&id);
    assert_eq!(
        out.assert_code(0).line("personality"),
        "personality: ok",
        "{}",
        out.stderr
    );
    let delta = learn.join(format!("{id}.rec"));
    wait_for(&delta);
    let learned: BTreeSet<String> = recorded_names(&delta).into_iter().map(|(_, n)| n).collect();
    for n in ["personality", "getppid", "mmap", "openat"] {
        assert!(
            learned.contains(n),
            "the whole container is learned: {n} in {learned:?}"
        );
    }
    // The agent ran as the user: its socket and delta are the user's.
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&delta).unwrap().uid(), user.uid());
    agent.kill();

    // The base set plus what was learned runs the container, rootless and enforced.
    let healed = d.join("healed.json");
    let mut c = clean_command(syscage());
    c.arg("merge").arg(&p).arg(&delta).arg("-o").arg(&healed);
    run_command(c).assert_code(0);
    apply_dir(&bundle_dir, &healed, None);
    chown_all();
    let id = unique("rl");
    let out = run_rootless(&id);
    assert_eq!(
        out.assert_code(0).line("personality"),
        "personality: ok",
        "{}",
        out.stderr
    );
    assert_eq!(out.line("getppid"), "getppid: ok");

    // Monitor mode, rootless: crun's own pre-exec calls (its listener helper's wait4 and kill)
    // are told apart from the container's without reading crun's non-dumpable init (it has not
    // exec'd since its fork); the container's personality is denied and reported.
    let p = record_probe(&dir, "crun", &["syscall", "getppid"]);
    apply_dir(&bundle_dir, &p, Some((&sock, "--monitor")));
    chown_all();
    let _agent2 = rootless_agent(&["--monitor", ev.to_str().unwrap()]);
    let id = unique("rl");
    let out = run_rootless(&id);
    assert_eq!(
        out.assert_code(0).line("getppid"),
        "getppid: ok",
        "{}",
        out.stderr
    );
    assert_eq!(out.line("personality"), "personality: EPERM");
    let reported: Vec<String> = events(&ev)
        .into_iter()
        .filter(|e| e["id"] == id.as_str() && e["event"] == "first")
        .map(|e| e["syscall"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        reported,
        ["personality"],
        "crun's own calls are not reported"
    );
}

/// podman passes `listenerPath` on from `--security-opt seccomp=FILE`: a profile written by
/// `syscage oci profile` routes a podman container through the agent.
#[test]
fn podman_routes_through_the_agent_with_a_standalone_profile() {
    let work = TempDir::new("agentpodman");
    // Removed when the test ends.
    let imported = PodmanImage::with_probe(&work, "syscage-agent");
    let image = imported.0.as_str();
    let p = record_probe(&work, "crun", &["syscall", "getppid"]);
    let (sock, ev, learn) = agent_paths(&work);
    let routed = work.join("routed.json");
    let mut c = clean_command(syscage());
    c.args(["oci", "profile", "--seccomp"])
        .arg(&p)
        .arg("--agent")
        .arg(&sock)
        .arg("--monitor")
        .arg("-o")
        .arg(&routed);
    run_command(c).assert_code(0);
    let mut agent = Agent::start(&sock, &ev, &learn);
    let sec = format!("seccomp={}", routed.display());
    let name = unique("sc-podman");
    let mut args: Vec<&str> = PODMAN_RUN.to_vec();
    args.extend([
        "--name",
        &name,
        "--security-opt",
        &sec,
        image,
        "/bin/probe",
        "syscall",
        "getppid",
        "personality",
    ]);
    let out = podman(&args);
    assert_eq!(
        out.assert_code(0).line("getppid"),
        "getppid: ok",
        "{}",
        out.stderr
    );
    assert_eq!(out.line("personality"), "personality: EPERM");
    agent.stop();
    let ev = events(&ev);
    assert!(
        ev.iter()
            .any(|e| e["event"] == "first" && e["syscall"] == "personality"),
        "{ev:?}"
    );
}

/// An argument rule of the profile (socket families, from `record --args`) still refuses a
/// value outside it through the agent, in learn mode too: the rule's mismatch falls to the
/// profile's own default action in the kernel, never to the agent.
#[test]
fn argument_rules_hold_through_the_agent_in_learn_mode() {
    let runtime = "crun";
    let dir = TempDir::new("agentargs");
    let (sock, ev, learn) = agent_paths(&dir);
    let p = dir.join("unix.json");
    let mut c = clean_command(syscage());
    c.args(["record", "-q", "--args", "--runtime", runtime, "-o"])
        .arg(&p)
        .args([
            "--",
            "/usr/bin/python3",
            "-c",
            "import socket\nsocket.socket(socket.AF_UNIX).close()",
        ]);
    run_command(c).assert_code(0);
    let mut agent = Agent::start(&sock, &ev, &learn);
    let dir2 = TempDir::new("agentargsopen");
    let open = dir2.join("open.json");
    std::fs::write(&open, r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
    let script = "import socket\ntry:\n    socket.socket(socket.AF_INET6); print('inet ok')\nexcept PermissionError: print('inet EPERM')\nsocket.socket(socket.AF_UNIX).close(); print('unix ok')";
    let b = Bundle::new(
        runtime,
        &["/usr/bin/python3".into(), "-c".into(), script.into()],
        &open,
        false,
    );
    apply(&b, &p, Some((&sock, "--learn")));
    let out = b.run();
    assert_eq!(
        out.assert_code(0).stdout,
        "inet EPERM\nunix ok\n",
        "{}",
        out.stderr
    );
    let delta = learn.join(format!("{}.rec", b.id));
    wait_for(&delta);
    agent.stop();
    let learned: BTreeSet<String> = recorded_names(&delta).into_iter().map(|(_, n)| n).collect();
    assert!(!learned.contains("socket"), "{learned:?}");
}

/// The pid-reuse attack on the launcher exemption (issue 13): a container without a pid
/// namespace of its own, whose profile (Docker's) allows fork and setsid. Its init exits at once,
/// leaving a child that forks until a grandchild gets the dead init's pid, which then makes a
/// routed call (keyctl). Trusting the bare pid, the agent took that grandchild for the runtime's
/// init before its exec and let the call through unreported; holding a pidfd of the real init,
/// it denies and reports it. All inside a private pid namespace with a small pid_max (Linux
/// 6.14+), so the pids come round in a moment and nothing outside is touched.
#[test]
fn a_reused_pid_is_never_taken_for_the_runtimes_init() {
    let dir = TempDir::new("pidreuse");
    let (sock, ev, _) = agent_paths(&dir);
    let bundle = probe_bundle("crun", &["pid-reuse", "20000", "keyctl"]);
    bundle.edit_config(|cfg| {
        cfg["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "pid");
        // The init waits (filter loaded, not exec'd) while the hook sleeps: the agent surely
        // sees it before its exec, so the exemption is in force when the attack comes.
        cfg["hooks"] = serde_json::json!({"startContainer": [
            {"path": "/bin/busybox", "args": ["sleep", "0.5"]}
        ]});
    });
    apply(
        &bundle,
        &fixture("docker-default-seccomp.json"),
        Some((&sock, "--monitor")),
    );
    let out_file = dir.join("container.out");
    let agent_log = dir.join("agent.log");
    let script = r#"
set -u
echo 2000 > /proc/sys/kernel/pid_max || { echo "no pid_max of its own in a pid namespace (Linux 6.14+ needed)"; exit 1; }
# Past the allocator's wrap point (300), so the container's pid can come round again.
i=0; while [ $i -lt 400 ]; do /bin/true; i=$((i+1)); done
"$SYSCAGE" agent --socket "$SOCK" --monitor "$EV" 2>"$AGENT_LOG" &
agent=$!
n=0; while [ ! -S "$SOCK" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n+1)); done
"$CGROUP2NS" crun --cgroup-manager=disabled --root "$STATE" run -b "$BUNDLE" "$ID" >"$OUT" 2>&1
# The init has exited; its orphan goes on until a grandchild has the init's pid.
n=0; while ! grep -q "^pid-reuse" "$OUT" && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done
sleep 0.2
kill -TERM $agent; wait $agent
cat "$OUT"
"#;
    let mut c = Command::new("unshare");
    c.args(["--pid", "--fork", "--mount-proc", "sh", "-c", script])
        .env("SYSCAGE", syscage())
        .env("SOCK", &sock)
        .env("EV", &ev)
        .env("AGENT_LOG", &agent_log)
        .env("CGROUP2NS", cgroup2_ns())
        .env("STATE", bundle.dir.join("state"))
        .env("BUNDLE", bundle.dir.path())
        .env("ID", &bundle.id)
        .env("OUT", &out_file);
    let out = run_command(c);
    let log = std::fs::read_to_string(&agent_log).unwrap_or_default();
    out.assert_code(0);
    assert!(
        log.contains("the runtime's init has not exec'd yet"),
        "the attack needs the exemption in force: {log}"
    );
    let line = out.line("pid-reuse");
    assert!(
        line.ends_with(": keyctl: EPERM"),
        "the grandchild with the init's pid must be denied like any task of the container: {line}\nagent:\n{log}"
    );
    let ev = events(&ev);
    assert!(
        ev.iter().any(|e| e["event"] == "first"
            && e["syscall"] == "keyctl"
            && e["id"] == bundle.id.as_str()),
        "and reported: {ev:?}\nagent:\n{log}"
    );
}

fn open_fds_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// User plus system CPU time of `pid`, in clock ticks (1/100 s).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // After the command: state(0) ppid(1) ... utime(11) stime(12).
    f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)
}

/// A state message as a runtime sends it, for container `id`.
fn state_message(id: &str) -> Vec<u8> {
    format!(
        r#"{{"ociVersion":"1.0.2","fds":["seccompFd"],"pid":{},"metadata":"syscage mode=monitor default=errno:1","state":{{"ociVersion":"1.0.2","id":"{id}","status":"creating","pid":1,"bundle":"/b"}}}}"#,
        std::process::id()
    )
    .into_bytes()
}

fn send_with_fds(
    sock: &Path,
    bytes: &[u8],
    fds: &[std::os::fd::RawFd],
) -> std::os::unix::net::UnixStream {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    use std::os::fd::AsRawFd;
    let s = std::os::unix::net::UnixStream::connect(sock).unwrap();
    sendmsg::<()>(
        s.as_raw_fd(),
        &[std::io::IoSlice::new(bytes)],
        &[ControlMessage::ScmRights(fds)],
        MsgFlags::empty(),
        None,
    )
    .unwrap();
    s
}

/// One agent, one running crun container whose routed calls are timed, and meanwhile 50 clients
/// that connect and say nothing, one that sends a byte every 4 s, a regular file and /dev/zero
/// sent as the listener, and a message carrying 100 descriptors. The container starts and its
/// routed calls are answered within milliseconds (before: each silent client held the one loop
/// for 5 s, a slow one for ever); the agent neither spins on a non-listener nor keeps a
/// descriptor it was sent.
#[test]
fn hostile_clients_never_stall_the_agent_or_leak_into_it() {
    use std::os::fd::AsRawFd;
    let dir = TempDir::new("hostile");
    let (sock, ev, learn) = agent_paths(&dir);
    let mut agent = Agent::start(&sock, &ev, &learn);
    let pid = agent.child.as_ref().unwrap().id();
    let fds_idle = open_fds_of(pid);
    let cpu_start = cpu_ticks(pid);

    let idle: Vec<_> = (0..50)
        .map(|_| std::os::unix::net::UnixStream::connect(&sock).unwrap())
        .collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (connected_tx, connected_rx) = std::sync::mpsc::channel();
    let slow = {
        let (sock, stop) = (sock.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
            let _ = connected_tx.send(Instant::now());
            for b in state_message("slow") {
                if stop.load(std::sync::atomic::Ordering::SeqCst)
                    || std::io::Write::write_all(&mut s, &[b]).is_err()
                {
                    return;
                }
                for _ in 0..40 {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        })
    };
    // On a loaded machine the thread may start late: its 5 s count from its connection.
    let slow_since = connected_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the slow client connects");
    let file = std::fs::File::open("/etc/hostname").unwrap();
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let _f = send_with_fds(&sock, &state_message("file"), &[file.as_raw_fd()]);
    let _z = send_with_fds(&sock, &state_message("zero"), &[zero.as_raw_fd()]);
    let many: Vec<std::fs::File> = (0..100)
        .map(|_| std::fs::File::open("/dev/null").unwrap())
        .collect();
    let raw: Vec<_> = many.iter().map(|f| f.as_raw_fd()).collect();
    let _m = send_with_fds(&sock, &state_message("many"), &raw);

    // The container starts while all of them are connected, and its routed calls are timed.
    let bundle = probe_bundle("crun", &["paced", "30", "100", "keyctl"]);
    apply(
        &bundle,
        &fixture("docker-default-seccomp.json"),
        Some((&sock, "--monitor")),
    );
    let started = Instant::now();
    let out = bundle.run();
    let line = out.assert_code(0).line("paced keyctl");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the container took {:?}",
        started.elapsed()
    );
    let (outcome, slowest) = line.split_once("; slowest ").unwrap();
    assert_eq!(outcome, "paced keyctl x30: EPERM x30", "routed and denied");
    let slowest: u64 = slowest.trim_end_matches(" us").parse().unwrap();
    assert!(
        slowest < 100_000,
        "a routed call took {slowest} us while hostile clients were connected"
    );

    // Refused ones leave nothing: at most the 50 idle and the slow connections are held (fewer
    // once their 5 s are up, on a loaded machine).
    std::thread::sleep(Duration::from_millis(300));
    let held = open_fds_of(pid);
    assert!(
        held <= fds_idle + 51,
        "the agent holds {} descriptors more than when idle: only the pending connections may stay (before: +8 per 100-fd message)",
        held - fds_idle
    );
    // No spinning on /dev/zero or a file: a few ticks of CPU in seconds.
    let cpu = cpu_ticks(pid) - cpu_start;
    assert!(cpu < 100, "the agent used {cpu} ticks of CPU");
    // Handshakes have one deadline (5 s) whatever arrives: then every descriptor is back.
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(10);
    while open_fds_of(pid) != fds_idle {
        assert!(
            Instant::now() < deadline,
            "the agent still holds {} descriptors more than when idle",
            open_fds_of(pid) - fds_idle
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The slow client's deadline has passed for certain before it is stopped.
    let due = slow_since + Duration::from_secs(7);
    if let Some(rest) = due.checked_duration_since(Instant::now()) {
        std::thread::sleep(rest);
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    slow.join().unwrap();
    let log = agent.stop();
    for why in [
        "\"seccompFd\" is not a seccomp notify descriptor",
        "more descriptors than a runtime sends",
        "no whole message within 5 s",
    ] {
        assert!(log.contains(why), "{why}: {log}");
    }
    assert!(
        log.contains(&format!("serving container {}", bundle.id)),
        "{log}"
    );
}

/// `--socket` is never reachable with a mode wider than 0600, whatever the umask.
#[test]
fn the_agents_socket_is_created_private_under_any_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("umask");
    let (sock, ev, learn) = agent_paths(&dir);
    // A watcher polls for the socket from before the agent starts and records its mode the
    // first time it exists.
    let mut c = Command::new("sh");
    c.args(["-c", "umask 000; exec \"$0\" \"$@\""])
        .arg(syscage())
        .args(["agent", "--socket"])
        .arg(&sock)
        .arg("--monitor")
        .arg(&ev)
        .arg("--learn")
        .arg(&learn);
    let watcher = {
        let sock = sock.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(m) = std::fs::symlink_metadata(&sock) {
                    return Some(m.permissions().mode() & 0o777);
                }
                if Instant::now() > deadline {
                    return None;
                }
                std::hint::spin_loop();
            }
        })
    };
    let mut agent = Agent::spawn(c, &sock);
    let first = watcher.join().unwrap();
    assert_eq!(
        first,
        Some(0o600),
        "the socket's mode when it first appeared"
    );
    agent.stop();
}
