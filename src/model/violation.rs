//! Monitor events: one JSON object per line for each syscall a profile denied (or, in learn mode,
//! let through), bounded under floods. Pure: the supervisor feeds calls and clock ticks.
//!
//! The first call of each (executable, ABI, syscall, action) is reported in full (`"event":
//! "first"`, with its arguments); later ones are only counted and reported at most once per
//! period (`"repeat"`, with the count so far); when the workload ends every key gets a `"total"`
//! line with its exact count. Output is thus bounded by keys × (periods + 2), whatever the rate.

use std::collections::BTreeMap;

use serde_json::json;

use super::Abi;

/// One notified syscall, as the supervisor saw it.
#[derive(Debug, Clone)]
pub struct Call {
    pub pid: u32,
    /// The pid as the task's own pid namespace sees it (NSpid: the container's logs use it).
    pub nspid: Option<u32>,
    pub exe: String,
    /// The path the program was started by, where it names `exe` differently (a symlink).
    pub started_as: Option<String>,
    pub abi: Abi,
    /// The number as the task made it (`syscall` may be `unknown`).
    pub nr: i64,
    pub syscall: String,
    pub args: [u64; 6],
    /// What was done (`Answer::describe`) and why (`Why::name`).
    pub action: String,
    pub why: &'static str,
}

type Key = (String, Abi, String, String);

/// The one name every number outside an ABI's syscall table is reported under.
pub const UNKNOWN: &str = "unknown";

/// Distinct keys before new executables share one.
pub const MAX_KEYS: usize = 1024;
/// The executable new keys are counted under once `MAX_KEYS` is reached.
pub const OTHER_EXECUTABLES: &str = "(other executables: too many distinct ones to name)";
/// Keys reported in one period at most.
pub const MAX_REPEATS: usize = 64;

struct Entry {
    count: u64,
    reported: u64,
    why: &'static str,
    last_pid: u32,
    last_nspid: Option<u32>,
    started_as: Option<String>,
    /// When this key was last reported (its first line, or a repeat): the period's turn.
    last_report: u64,
}

/// Counts calls per key and says what to print.
pub struct Throttle {
    id: String,
    entries: BTreeMap<Key, Entry>,
    /// Increases with every report, so that the least recently reported keys go first.
    reports: u64,
}

fn line(id: &str, time: f64, event: &str, k: &Key, e: &Entry) -> String {
    fields(id, time, event, k, e).to_string()
}

fn fields(id: &str, time: f64, event: &str, k: &Key, e: &Entry) -> serde_json::Value {
    let mut v = fields_of(id, time, event, k, e);
    if let Some(n) = e.last_nspid {
        v["nspid"] = json!(n);
    }
    if let Some(s) = &e.started_as {
        v["started_as"] = json!(s);
    }
    v
}

fn fields_of(id: &str, time: f64, event: &str, k: &Key, e: &Entry) -> serde_json::Value {
    json!({
        "time": (time * 1000.0).round() / 1000.0,
        "id": id,
        "event": event,
        "pid": e.last_pid,
        "executable": k.0,
        "abi": k.1.as_str(),
        "syscall": k.2,
        "action": k.3,
        "reason": e.why,
        "count": e.count,
    })
}

impl Throttle {
    /// `id` names the run or container in every line.
    pub fn new(id: &str) -> Throttle {
        Throttle {
            id: id.to_string(),
            entries: BTreeMap::new(),
            reports: 0,
        }
    }

    /// Counts `c`; returns its line if it is the first of its key.
    pub fn see(&mut self, c: &Call, time: f64) -> Option<String> {
        let mut key = (c.exe.clone(), c.abi, c.syscall.clone(), c.action.clone());
        if self.entries.len() >= MAX_KEYS && !self.entries.contains_key(&key) {
            key.0 = OTHER_EXECUTABLES.to_string();
        }
        self.reports += 1;
        // A key seen before (every call of a flood): one lookup, nothing allocated for it.
        if let Some(e) = self.entries.get_mut(&key) {
            e.count += 1;
            e.last_pid = c.pid;
            e.last_nspid = c.nspid;
            return None;
        }
        let e = self.entries.entry(key.clone()).or_insert(Entry {
            count: 1,
            reported: 1,
            why: c.why,
            last_pid: c.pid,
            last_nspid: c.nspid,
            started_as: c.started_as.clone(),
            last_report: self.reports,
        });
        let mut v = fields(&self.id, time, "first", &key, e);
        v["args"] = json!(c.args.iter().map(|x| format!("{x:#x}")).collect::<Vec<_>>());
        // Beside the raw values, as strace would show them (by argument index).
        let decoded = super::flags::decode(&c.syscall, &c.args);
        if !decoded.is_empty() {
            v["decoded"] = decoded
                .into_iter()
                .map(|(i, s)| (format!("arg{i}"), json!(s)))
                .collect::<serde_json::Map<_, _>>()
                .into();
        }
        if c.syscall == UNKNOWN {
            // The one key of every unknown number: its first line says which one came first.
            v["nr"] = json!(c.nr);
        }
        Some(v.to_string())
    }

    /// The periodic lines: keys counted again since they were last reported, at most
    /// `MAX_REPEATS` of them, those reported longest ago first.
    pub fn tick(&mut self, time: f64) -> Vec<String> {
        let mut due: Vec<(u64, &Key)> = self
            .entries
            .iter()
            .filter(|(_, e)| e.count > e.reported)
            .map(|(k, e)| (e.last_report, k))
            .collect();
        due.sort_unstable();
        let keys: Vec<Key> = due
            .into_iter()
            .take(MAX_REPEATS)
            .map(|(_, k)| k.clone())
            .collect();
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            self.reports += 1;
            if let Some(e) = self.entries.get_mut(&k) {
                e.reported = e.count;
                e.last_report = self.reports;
                out.push(line(&self.id, time, "repeat", &k, e));
            }
        }
        out
    }

    /// Distinct keys counted (bounded, see the module's note).
    pub fn keys(&self) -> usize {
        self.entries.len()
    }

    /// One `total` line per key, with its exact count.
    pub fn finish(&self, time: f64) -> Vec<String> {
        self.entries
            .iter()
            .map(|(k, e)| line(&self.id, time, "total", k, e))
            .collect()
    }

    /// Calls counted so far.
    pub fn calls(&self) -> u64 {
        self.entries.values().map(|e| e.count).sum()
    }
}

/// The innermost pid of a `/proc/PID/status` text's `NSpid:` line (the pid the task's own
/// pid namespace gives it).
pub fn innermost_pid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))?
        .split_whitespace()
        .last()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(syscall: &str) -> Call {
        Call {
            started_as: None,
            pid: 7,
            nspid: Some(2),
            exe: "/usr/bin/app".into(),
            abi: Abi::X86_64,
            nr: 63,
            syscall: syscall.into(),
            args: [2, 1, 0, 0, 0, 0],
            action: "errno 1 (EPERM)".into(),
            why: "unlisted",
        }
    }

    #[test]
    fn the_innermost_pid_is_the_last_of_nspid() {
        let status = "Name:\tpython3\nTgid:\t4242\nPid:\t4242\nNSpid:\t4242\t17\t2\n";
        assert_eq!(innermost_pid(status), Some(2));
        assert_eq!(innermost_pid("NSpid:\t99\n"), Some(99));
        assert_eq!(innermost_pid("Pid:\t99\n"), None);
        assert_eq!(innermost_pid("NSpid:\t\n"), None);
        assert_eq!(innermost_pid("NSpid:\tx\n"), None);
        let mut t = Throttle::new("run-1");
        let line = t.see(&call("getpriority"), 1.0).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!((v["pid"].as_u64(), v["nspid"].as_u64()), (Some(7), Some(2)));
    }

    #[test]
    fn floods_are_bounded_and_counts_exact() {
        let mut t = Throttle::new("run-1");
        let first = t.see(&call("uname"), 1.0).unwrap();
        let v: serde_json::Value = serde_json::from_str(&first).unwrap();
        assert_eq!(v["event"], "first");
        assert_eq!(v["syscall"], "uname");
        assert_eq!(v["args"][0], "0x2");
        assert_eq!(v["id"], "run-1");
        for _ in 0..9999 {
            assert!(t.see(&call("uname"), 1.5).is_none());
        }
        assert!(t.see(&call("socket"), 1.6).is_some());
        let repeats = t.tick(2.0);
        assert_eq!(repeats.len(), 1, "{repeats:?}");
        let r: serde_json::Value = serde_json::from_str(&repeats[0]).unwrap();
        assert_eq!(
            (r["event"].as_str(), r["count"].as_u64()),
            (Some("repeat"), Some(10000))
        );
        assert!(t.tick(3.0).is_empty(), "nothing new, nothing printed");
        let totals = t.finish(4.0);
        assert_eq!(totals.len(), 2);
        assert_eq!(t.calls(), 10001);
        let counts: Vec<u64> = totals
            .iter()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["count"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(counts.iter().sum::<u64>(), 10001);
    }

    #[test]
    fn ever_new_executables_add_no_keys_past_the_bound_and_counts_stay_exact() {
        let mut t = Throttle::new("run-1");
        let mut firsts = 0;
        for i in 0..5 * MAX_KEYS {
            let mut c = call("uname");
            c.exe = format!("/tmp/x{i}");
            firsts += usize::from(t.see(&c, 1.0).is_some());
        }
        assert_eq!(t.keys(), MAX_KEYS + 1, "one shared key past the bound");
        assert_eq!(firsts, MAX_KEYS + 1);
        assert_eq!(t.calls(), 5 * MAX_KEYS as u64);
        let totals = t.finish(2.0);
        let other: serde_json::Value = totals
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|v| v["executable"] == OTHER_EXECUTABLES)
            .unwrap();
        assert_eq!(other["count"], 4 * MAX_KEYS as u64);
    }

    #[test]
    fn a_period_reports_a_bounded_number_of_keys_and_every_key_gets_its_turn() {
        let mut t = Throttle::new("run-1");
        let names: Vec<String> = (0..3 * MAX_REPEATS).map(|i| format!("s{i}")).collect();
        for n in &names {
            t.see(&call(n), 1.0);
        }
        let mut reported = std::collections::BTreeSet::new();
        for period in 0..3 {
            // Every key is called again before each period.
            for n in &names {
                t.see(&call(n), 1.0);
            }
            let lines = t.tick(2.0 + f64::from(period));
            assert_eq!(lines.len(), MAX_REPEATS);
            for l in lines {
                let v: serde_json::Value = serde_json::from_str(&l).unwrap();
                reported.insert(v["syscall"].as_str().unwrap().to_string());
            }
        }
        assert_eq!(reported.len(), names.len(), "no key starved");
    }

    #[test]
    fn an_unknown_numbers_first_line_names_its_number() {
        let mut t = Throttle::new("run-1");
        let mut c = call(UNKNOWN);
        c.nr = 1000;
        let v: serde_json::Value = serde_json::from_str(&t.see(&c, 1.0).unwrap()).unwrap();
        assert_eq!(
            (v["syscall"].as_str(), v["nr"].as_i64()),
            (Some(UNKNOWN), Some(1000))
        );
        c.nr = 1001;
        assert!(t.see(&c, 1.0).is_none(), "same key");
    }
}
