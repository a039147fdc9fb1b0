//! Finding a running container's init process through the engine that runs it, by the engine's
//! own CLI (its state, its daemon): podman, docker, containerd's ctr, crun, runc — asked in
//! that order, each with a deadline, so that a hung daemon cannot hold `record --attach`.
//! `ENGINE:NAME` asks one engine only. The engines' usual variables apply (DOCKER_HOST,
//! CONTAINERD_ADDRESS, CONTAINERD_NAMESPACE); crun and runc read their state from
//! `SYSCAGE_RUNTIME_ROOT` when set (their `--root`), else their default.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The engines asked, in order.
pub const ENGINES: [&str; 5] = ["podman", "docker", "ctr", "crun", "runc"];

/// How long one engine may take to answer.
const DEADLINE: Duration = Duration::from_secs(10);

/// A container found: the engine that knows it, its init's host pid, how it was asked, and the
/// OCI runtime it runs under (for the profile's runtime base set).
#[derive(Debug, Clone)]
pub struct Found {
    pub engine: &'static str,
    pub pid: u32,
    pub asked: String,
    pub runtime: &'static str,
    /// `ENGINE:NAME`: asks the same engine about the same container again.
    pub again: String,
}

/// Finds container `name` (`ENGINE:NAME` for one engine).
pub fn find(name: &str) -> Result<Found, String> {
    let (engines, name): (Vec<&'static str>, &str) = match name.split_once(':') {
        Some((e, n)) => match ENGINES.iter().find(|x| **x == e) {
            Some(e) => (vec![*e], n),
            None => {
                return Err(format!(
                    "container:{name}: unknown engine {e:?} (expected one of {})",
                    ENGINES.join(", ")
                ));
            }
        },
        None => (ENGINES.to_vec(), name),
    };
    if name.is_empty() || name.starts_with('-') || name.contains(char::is_whitespace) {
        return Err(format!("container:{name}: not a container name or id"));
    }
    let mut tried = Vec::new();
    for engine in engines {
        match ask(engine, name) {
            Ok(Some(f)) => return Ok(f),
            Ok(None) => tried.push(format!("{engine}: no such container")),
            Err(why) => tried.push(format!("{engine}: {why}")),
        }
    }
    Err(format!("container {name} not found ({})", tried.join("; ")))
}

/// One engine: `Ok(None)` when it answers that it has no such container.
fn ask(engine: &'static str, name: &str) -> Result<Option<Found>, String> {
    let state_root = std::env::var("SYSCAGE_RUNTIME_ROOT").ok();
    let (mut cmd, asked) = match engine {
        "podman" | "docker" => {
            let mut c = Command::new(engine);
            c.args([
                "inspect",
                "--type",
                "container",
                "--format",
                "{{.State.Pid}} {{.State.Running}}",
                name,
            ]);
            (c, format!("{engine} inspect"))
        }
        "ctr" => {
            let mut c = Command::new("ctr");
            c.args(["task", "ls"]);
            (c, "ctr task ls".to_string())
        }
        _ => {
            let mut c = Command::new(engine);
            if let Some(r) = &state_root {
                c.args(["--root", r]);
            }
            c.args(["state", name]);
            (c, format!("{engine} state"))
        }
    };
    let out = run(&mut cmd).map_err(|e| format!("{asked}: {e}"))?;
    if !out.0 {
        // Not installed, no daemon, or no such container: all say "not here".
        return Ok(None);
    }
    let Some(pid) = parse_answer(engine, name, &out.1).map_err(|e| format!("{asked}: {e}"))? else {
        return Ok(None);
    };
    Ok(Some(Found {
        engine,
        pid,
        asked,
        again: format!("{engine}:{name}"),
        // Debian's podman runs crun; docker and containerd run runc.
        runtime: match engine {
            "podman" | "crun" => "crun",
            _ => "runc",
        },
    }))
}

/// The init pid in an engine's answer about container `name` (`Ok(None)`: it has no such
/// container). The answer is another program's output: anything not a running container's
/// positive pid that fits a pid is refused, never truncated into another process's pid.
pub fn parse_answer(engine: &str, name: &str, text: &str) -> Result<Option<u32>, String> {
    let pid_of = |p: Option<u64>| {
        p.and_then(|p| u32::try_from(p).ok())
            .filter(|p| *p > 0 && *p <= MAX_PID)
            .ok_or_else(|| format!("no valid pid for container {name}"))
    };
    let pid = match engine {
        "podman" | "docker" => {
            let mut w = text.split_whitespace();
            let pid = w.next().and_then(|p| p.parse().ok());
            if w.next() != Some("true") || w.next().is_some() {
                return Err(format!("container {name} is not running"));
            }
            pid_of(pid)?
        }
        // TASK PID STATUS, one line per task (= container id).
        "ctr" => {
            let Some(line) = text
                .lines()
                .skip(1)
                .find(|l| l.split_whitespace().next() == Some(name))
            else {
                return Ok(None);
            };
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.get(2) != Some(&"RUNNING") {
                return Err(format!("task {name} is not running"));
            }
            pid_of(f.get(1).and_then(|p| p.parse().ok()))?
        }
        _ => {
            let v: serde_json::Value =
                serde_json::from_str(text).map_err(|e| format!("unreadable answer: {e}"))?;
            if v["status"] != "running" {
                return Err(format!("container {name} is not running"));
            }
            pid_of(v["pid"].as_u64())?
        }
    };
    Ok(Some(pid))
}

/// The kernel's largest pid (PID_MAX_LIMIT on 64-bit).
const MAX_PID: u32 = 1 << 22;

/// Runs `cmd` with a deadline: (success, stdout).
fn run(cmd: &mut Command) -> Result<(bool, String), String> {
    let mut child = match cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        // Not installed: not an error, the engine has no containers here.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((false, String::new())),
        Err(e) => return Err(e.to_string()),
    };
    // Read on a thread of its own, given up at the deadline: something the engine started
    // may hold its stdout open.
    let mut stdout = child.stdout.take();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = stdout.as_mut() {
            let _ = std::io::Read::read_to_string(&mut std::io::Read::take(o, 1 << 20), &mut s);
        }
        let _ = tx.send(s);
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() < DEADLINE => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no answer in {} s", DEADLINE.as_secs()));
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    let text = rx
        .recv_timeout(DEADLINE.saturating_sub(start.elapsed()))
        .map_err(|_| format!("its output did not end in {} s", DEADLINE.as_secs()))?;
    Ok((status.success(), text))
}

#[cfg(test)]
mod tests {
    #[test]
    fn bad_names_and_engines_are_refused() {
        assert!(super::find("").is_err());
        assert!(super::find("-rf").is_err());
        assert!(
            super::find("nosuch:box")
                .unwrap_err()
                .contains("unknown engine")
        );
    }

    #[test]
    fn engine_answers_give_a_pid_or_say_why_not() {
        use super::parse_answer as p;
        assert_eq!(p("docker", "web", "4242 true\n"), Ok(Some(4242)));
        assert_eq!(
            p("ctr", "web", "TASK PID STATUS\nweb 77 RUNNING\n"),
            Ok(Some(77))
        );
        assert_eq!(
            p("ctr", "web", "TASK PID STATUS\nwebx 77 RUNNING\n"),
            Ok(None)
        );
        assert_eq!(
            p("runc", "web", r#"{"status":"running","pid":9}"#),
            Ok(Some(9))
        );
        // Hostile or broken answers: never a pid they did not name, never pid 0 (ourselves)
        // nor a pid truncated into another one (2^32+1 is not pid 1).
        for (engine, answer) in [
            ("docker", "0 true"),
            ("docker", "-1 true"),
            ("docker", "4294967297 true"),
            ("podman", "12 false"),
            ("podman", "12 true extra"),
            ("podman", ""),
            ("ctr", "TASK PID STATUS\nweb 0 RUNNING"),
            ("ctr", "TASK PID STATUS\nweb 12 STOPPED"),
            ("ctr", "TASK PID STATUS\nweb"),
            ("crun", r#"{"status":"running","pid":4294967297}"#),
            ("crun", r#"{"status":"running","pid":-5}"#),
            ("crun", r#"{"status":"running"}"#),
            ("crun", r#"{"status":"stopped","pid":3}"#),
            ("runc", "not json"),
            ("runc", "[]"),
        ] {
            let got = p(engine, "web", answer);
            assert!(got.is_err(), "{engine} {answer:?}: {got:?}");
        }
    }
}
