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
    pub exe: String,
    pub abi: Abi,
    pub syscall: String,
    pub args: [u64; 6],
    /// What was done (`Answer::describe`) and why (`Why::name`).
    pub action: String,
    pub why: &'static str,
}

type Key = (String, Abi, String, String);

struct Entry {
    count: u64,
    reported: u64,
    why: &'static str,
    last_pid: u32,
}

/// Counts calls per key and says what to print.
pub struct Throttle {
    id: String,
    entries: BTreeMap<Key, Entry>,
}

fn line(id: &str, time: f64, event: &str, k: &Key, e: &Entry, args: Option<&[u64; 6]>) -> String {
    let mut v = json!({
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
    });
    if let Some(a) = args {
        v["args"] = json!(a.iter().map(|x| format!("{x:#x}")).collect::<Vec<_>>());
    }
    v.to_string()
}

impl Throttle {
    /// `id` names the run or container in every line.
    pub fn new(id: &str) -> Throttle {
        Throttle {
            id: id.to_string(),
            entries: BTreeMap::new(),
        }
    }

    /// Counts `c`; returns its line if it is the first of its key.
    pub fn see(&mut self, c: &Call, time: f64) -> Option<String> {
        let key = (c.exe.clone(), c.abi, c.syscall.clone(), c.action.clone());
        let first = !self.entries.contains_key(&key);
        let e = self.entries.entry(key.clone()).or_insert(Entry {
            count: 0,
            reported: 0,
            why: c.why,
            last_pid: c.pid,
        });
        e.count += 1;
        e.last_pid = c.pid;
        if first {
            e.reported = 1;
            return Some(line(&self.id, time, "first", &key, e, Some(&c.args)));
        }
        None
    }

    /// The periodic lines: keys counted again since they were last reported.
    pub fn tick(&mut self, time: f64) -> Vec<String> {
        let mut out = Vec::new();
        for (k, e) in self.entries.iter_mut() {
            if e.count > e.reported {
                e.reported = e.count;
                out.push(line(&self.id, time, "repeat", k, e, None));
            }
        }
        out
    }

    /// One `total` line per key, with its exact count.
    pub fn finish(&self, time: f64) -> Vec<String> {
        self.entries
            .iter()
            .map(|(k, e)| line(&self.id, time, "total", k, e, None))
            .collect()
    }

    /// Calls counted so far.
    pub fn calls(&self) -> u64 {
        self.entries.values().map(|e| e.count).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(syscall: &str) -> Call {
        Call {
            pid: 7,
            exe: "/usr/bin/app".into(),
            abi: Abi::X86_64,
            syscall: syscall.into(),
            args: [2, 1, 0, 0, 0, 0],
            action: "errno 1 (EPERM)".into(),
            why: "unlisted",
        }
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
}
