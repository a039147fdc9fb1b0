//! The manual pages: clap_mangen's pages, plus the EXAMPLES and ENVIRONMENT sections clap
//! cannot express, appended in roff.

use std::io::Write;
use std::path::Path;

/// (page, section, roff body): examples as indented literal blocks.
const EXTRA: &[(&str, &str, &str)] = &[
    (
        "syscage",
        "ENVIRONMENT",
        ".TP\n\\fBSYSCAGE_CACHE_DIR\\fR\nWhere compiled seccomp programs are cached (default \\fB$XDG_CACHE_HOME/syscage\\fR, else \\fB~/.cache/syscage\\fR); empty disables the cache. The directory and its files must belong to the user and be writable by no one else, or the cache is ignored.\n.TP\n\\fBPATH\\fR\n\\fBrun\\fR and \\fBrecord\\fR look the command up in it, as a shell would.\n",
    ),
    (
        "syscage",
        "EXAMPLES",
        ".nf\nsyscage record \\-o app.json \\-\\-recording app.rec \\-\\- ./app \\-\\-serve\nsyscage check \\-\\-fail\\-on medium app.json\nsyscage run \\-\\-seccomp app.json \\-\\- ./app \\-\\-serve\nsyscage run \\-\\-seccomp app.json \\-\\-learn delta.rec \\-\\- ./app \\-\\-serve\nsyscage merge app.json delta.rec \\-o app2.json\n.fi\n",
    ),
    (
        "syscage-record",
        "EXAMPLES",
        ".nf\nsyscage record \\-o app.json \\-\\- ./app \\-\\-serve        # Ctrl\\-C ends it\nsyscage record \\-o app.json \\-\\-args \\-\\-landlock app.ll \\-\\- ./app\nsyscage record \\-\\-runtime crun \\-o app.json \\-\\- ./app   # for crun containers\n.fi\n",
    ),
    (
        "syscage-run",
        "EXAMPLES",
        ".nf\nsyscage run \\-\\- ./app                               # Docker's default profile\nsyscage run \\-\\-seccomp app.json \\-\\-rw /var/lib/app \\-\\- ./app\nsyscage run \\-\\-seccomp app.json \\-\\-monitor \\- \\-\\- ./app     # report denials\nsyscage run \\-\\-net none \\-\\-user 1000 \\-\\- sh\n.fi\n",
    ),
    (
        "syscage-agent",
        "EXAMPLES",
        ".nf\nsyscage agent \\-\\-socket /run/syscage/agent.sock \\-\\-monitor /var/log/syscage.jsonl &\nsyscage oci apply \\-\\-bundle B \\-\\-seccomp app.json \\-\\-agent /run/syscage/agent.sock \\-\\-monitor\n.fi\n",
    ),
];

/// Writes every page into `dir`, with the extra sections.
pub fn write(dir: &Path) -> std::io::Result<()> {
    use clap::CommandFactory;
    clap_mangen::generate_to(super::Cli::command(), dir)?;
    for (page, section, body) in EXTRA {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join(format!("{page}.1")))?;
        write!(f, ".SH {section}\n{body}")?;
    }
    Ok(())
}
