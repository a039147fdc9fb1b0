//! Plugin hosts: libraries that load modules by names computed at run time, from directories
//! fixed when they were built (`profiles/plugin-hosts.json`, each with its reason).

use std::sync::OnceLock;

use serde::Deserialize;

use super::loader::Root;
use super::rootfile;
use super::rules::modules_under;

const DATA: &str = include_str!("../../profiles/plugin-hosts.json");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// The start of the host's file name.
    pub object: String,
    /// Where its modules are, searched `depth` levels deep.
    #[serde(default)]
    pub dirs: Vec<String>,
    pub depth: usize,
    /// Libraries it loads by a fixed name its code computes (found as dlopen finds a name:
    /// the loader's search path).
    #[serde(default)]
    pub names: Vec<String>,
    /// Files that name more modules.
    #[serde(default)]
    pub config: Option<Config>,
    /// What its `dlsym` of a computed name finds.
    pub lookups: String,
    pub why: String,
    /// What the rule cannot see.
    pub elsewhere: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Directories of `*.module` files.
    pub dirs: Vec<String>,
    /// The `key:` whose value is a module.
    pub key: String,
    /// Where a relative module path starts.
    pub relative_to: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    #[allow(dead_code)]
    comment: String,
    hosts: Vec<Host>,
}

/// The shipped table; its consistency is a unit test.
pub fn hosts() -> &'static [Host] {
    static T: OnceLock<Table> = OnceLock::new();
    &T.get_or_init(|| {
        serde_json::from_str(DATA).unwrap_or_else(|e| {
            // Compiled in and tested: only a broken build gets here.
            panic!("profiles/plugin-hosts.json: {e}")
        })
    })
    .hosts
}

/// The plugin host the object at `path` is, by its file name.
pub fn host_of(path: &str) -> Option<&'static Host> {
    let name = path.rsplit('/').next().unwrap_or(path);
    hosts().iter().find(|h| name.starts_with(&h.object))
}

impl Host {
    /// The rule's name, as the summary prints it.
    pub fn rule(&self) -> String {
        if self.dirs.is_empty() {
            format!("{}'s plugins {}", self.object, self.names.join(", "))
        } else {
            format!("{}'s plugins in {}", self.object, self.dirs.join(", "))
        }
    }

    /// What the summary says once about the rule: why, and what it cannot see.
    pub fn about(&self) -> String {
        format!(
            "{}: {}; its dlsym of a computed name finds {}; not seen: {} (pass those with --dlopen LIB)",
            self.rule(),
            self.why,
            self.lookups,
            self.elsewhere
        )
    }

    /// Every module the host can load from its directories and configuration, in the root.
    pub fn modules(&self, root: &Root) -> Vec<String> {
        let mut out: Vec<String> = self
            .dirs
            .iter()
            .flat_map(|d| modules_under(root, d, self.depth))
            .chain(self.names.iter().cloned())
            .collect();
        if let Some(c) = &self.config {
            out.extend(c.modules(root));
        }
        out.sort();
        out.dedup();
        out
    }
}

impl Config {
    fn modules(&self, root: &Root) -> Vec<String> {
        let mut out = Vec::new();
        for d in &self.dirs {
            let Some(host) = root.host(d) else { continue };
            let Ok(entries) = std::fs::read_dir(&host) else {
                continue;
            };
            let mut files: Vec<_> = entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".module"))
                .collect();
            files.sort_by_key(|e| e.file_name());
            for e in files {
                let path = format!("{}/{}", d, e.file_name().to_string_lossy());
                // Inside the root, symlinks resolved there; small regular files only.
                let Some(file) = root.host(&path) else {
                    continue;
                };
                let Ok(text) = rootfile::read(&file, rootfile::MAX_CONFIG) else {
                    continue;
                };
                out.extend(self.named_in(&String::from_utf8_lossy(&text)));
            }
        }
        out
    }

    /// The modules one configuration file names.
    fn named_in(&self, text: &str) -> Vec<String> {
        text.lines()
            .filter_map(|l| {
                let l = l.split('#').next().unwrap_or("");
                let (k, v) = l.split_once(':')?;
                let v = v.trim();
                (k.trim() == self.key && !v.is_empty()).then(|| {
                    if v.starts_with('/') {
                        v.to_string()
                    } else {
                        format!("{}/{v}", self.relative_to.trim_end_matches('/'))
                    }
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_every_host_says_why_and_what_it_misses() {
        assert!(!hosts().is_empty());
        for h in hosts() {
            assert!(
                !h.object.is_empty() && (!h.dirs.is_empty() || !h.names.is_empty()),
                "{h:?}"
            );
            assert!(h.names.iter().all(|n| !n.contains('/')), "{h:?}");
            assert!(h.dirs.iter().all(|d| d.starts_with('/')), "{h:?}");
            assert!((1..=4).contains(&h.depth), "{h:?}");
            assert!(!h.why.is_empty() && !h.elsewhere.is_empty() && !h.lookups.is_empty());
        }
        assert_eq!(
            host_of("/usr/lib/x86_64-linux-gnu/libcrypto.so.3").map(|h| h.object.as_str()),
            Some("libcrypto.so.3")
        );
        assert_eq!(
            host_of("/usr/lib/x86_64-linux-gnu/libbfd-2.40-system.so").map(|h| h.object.as_str()),
            Some("libbfd-")
        );
        assert!(host_of("/usr/lib/x86_64-linux-gnu/libc.so.6").is_none());
    }

    #[test]
    fn a_module_file_names_a_module_relative_to_its_directory_or_absolute() {
        let c = Config {
            dirs: vec![],
            key: "module".into(),
            relative_to: "/usr/lib/pkcs11/".into(),
        };
        assert_eq!(
            c.named_in(
                "# comment\nmodule: p11-kit-trust.so\ncritical: yes\nmodule:/opt/x.so # why\nmodule:\nmodules: no.so\n"
            ),
            vec!["/usr/lib/pkcs11/p11-kit-trust.so", "/opt/x.so"]
        );
    }

    #[test]
    fn module_files_an_image_holds_cannot_lead_out_of_it_nor_be_huge() {
        // An image's p11-kit module files: one fine, one an absolute symlink to a module file
        // outside the image (resolved inside the image: absent there), one over the size
        // bound, one binary.
        let base = std::env::temp_dir().join(format!("syscage-plugins-{}", std::process::id()));
        let dir = base.join("image");
        let mods = dir.join("usr/share/p11-kit/modules");
        std::fs::create_dir_all(&mods).unwrap();
        std::fs::write(mods.join("a.module"), "module: a.so\n").unwrap();
        let outside = base.join("outside.module");
        std::fs::write(&outside, "module: /escaped.so\n").unwrap();
        std::os::unix::fs::symlink(&outside, mods.join("b.module")).unwrap();
        let huge = format!(
            "module: huge.so\n{}",
            "#".repeat(rootfile::MAX_CONFIG as usize)
        );
        std::fs::write(mods.join("c.module"), huge).unwrap();
        std::fs::write(mods.join("d.module"), [0xff, 0xfe, b':', 0, b'\n', 0x80]).unwrap();
        let root = Root::new(&dir);
        let c = Config {
            dirs: vec!["/usr/share/p11-kit/modules".into()],
            key: "module".into(),
            relative_to: "/usr/lib/pkcs11".into(),
        };
        let got = c.modules(&root);
        std::fs::remove_dir_all(&base).unwrap();
        assert_eq!(got, vec!["/usr/lib/pkcs11/a.so"]);
    }
}
