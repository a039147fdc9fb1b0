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
        ".nf\nsyscage record \\-o app.json \\-\\- ./app \\-\\-serve        # Ctrl\\-C ends it\nsyscage record \\-o app.json \\-\\-args \\-\\-landlock app.ll \\-\\- ./app\nsyscage record \\-\\-runtime crun \\-o app.json \\-\\- ./app   # for crun containers\nsyscage record \\-\\-attach container:web \\-\\-duration 5m \\-o web.json   # already running\nsyscage record \\-\\-attach pid:4242 \\-o app.json             # Ctrl\\-C ends it\n.fi\n",
    ),
    (
        "syscage-run",
        "EXAMPLES",
        ".nf\nsyscage run \\-\\- ./app                               # Docker's default profile\nsyscage run \\-\\-seccomp app.json \\-\\-rw /var/lib/app \\-\\- ./app\nsyscage run \\-\\-seccomp app.json \\-\\-monitor \\- \\-\\- ./app     # report denials\nsyscage run \\-\\-net none \\-\\-user 1000 \\-\\- sh\n.fi\n",
    ),
    (
        "syscage-analyze",
        "EXAMPLES",
        ".nf\nsyscage analyze \\-o ls.json /bin/ls                 # a profile without running it\nsyscage analyze \\-\\-explain ptrace \\-\\-recording py.rec python3\nsyscage analyze \\-\\-root rootfs /usr/sbin/nginx         # an unpacked image\nsyscage analyze \\-\\-dlopen libfoo.so.1 ./app            # a library loaded by a computed name\nsyscage analyze \\-\\-libraries\\-from app.rec ./app       # ... or every library a run opened\n.fi\n",
    ),
    (
        "syscage-analyze",
        "FILES",
        ".TP\n\\fB$SYSCAGE_CACHE_DIR/analyze\\fR (else \\fB$XDG_CACHE_HOME/syscage/analyze\\fR, else \\fB~/.cache/syscage/analyze\\fR)\nEach object's facts, under the SHA-256 of its bytes and a key of the analysis code. The directory must be the user's alone, or it is not used; \\fB\\-\\-no\\-cache\\fR or an empty \\fBSYSCAGE_CACHE_DIR\\fR turns it off.\n",
    ),
    (
        "syscage-analyze",
        "EXIT STATUS",
        ".TP\n\\fB0\\fR\nComplete: every reachable syscall site's number is known.\n.TP\n\\fB3\\fR\nIncomplete: a site whose number is computed, a dlopen of a computed name, or a missing library (each named); the profile and recording are still written.\n.TP\n\\fB125\\fR\nBad input (not ELF, another machine, truncated, not found) or bad flags.\n",
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
