//! Command-line parsing and dispatch only; the work happens in the library modules.

mod analyze;
mod arch;
mod generate;
mod man;
mod oci;
mod profiles;
mod record;
mod run;

use std::ffi::OsString;

use clap::{Parser, Subcommand};

use crate::exit;

#[derive(Debug, Parser)]
#[command(
    name = "syscage",
    version,
    about = "Record the syscalls a workload makes, generate least-privilege profiles, run it confined",
    after_help = "Exit codes: the workload's own status; 128+N if signal N killed it; \
                  125 syscage's own error; 126 command not executable; 127 command not found."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command confined: user namespace, read-only root, no capabilities, no_new_privs, seccomp.
    Run(Box<run::RunArgs>),
    /// Trace a command and write the minimal seccomp profile that runs it.
    Record(record::RecordArgs),
    /// Lint a seccomp profile: dangerous syscalls, missing essentials, EPERM/ENOSYS mistakes, and
    /// what it allows beyond and below Docker's default.
    Check(profiles::CheckArgs),
    /// Every syscall a program's code can reach, from its ELF files (and its libraries').
    Analyze(analyze::AnalyzeArgs),
    /// Union of recordings and/or profiles.
    Merge(profiles::MergeArgs),
    /// A recording as a table, with the syscalls seen once and likely unexercised siblings.
    Report(profiles::ReportArgs),
    /// Kubernetes resources from a profile or a recording.
    #[command(subcommand)]
    Generate(generate::GenerateCommand),
    /// OCI runtime hook: reads the container state on stdin; records the container when it
    /// carries io.syscage.record=PATH (or io.containers.trace-syscall=[if:BASE;]of:PATH).
    Hook(HookArgs),
    /// OCI bundles.
    #[command(subcommand)]
    Oci(oci::OciCommand),
    /// Serve seccomp listeners that crun and runc hand over (`oci apply --agent`): report or
    /// learn the syscalls containers' profiles do not list, for every container at once.
    Agent(AgentArgs),
    /// Print a shell completion script (bash: source it, or install it as
    /// /usr/share/bash-completion/completions/syscage).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (syscage.1 and one per subcommand) into DIR (`make install`).
    #[command(hide = true)]
    Man {
        #[arg(long, value_name = "DIR")]
        dir: std::path::PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct HookArgs {
    /// The hook stage (createRuntime, prestart or poststop); by default derived from the
    /// container status in the state ("stopped" means poststop).
    #[arg(long)]
    pub stage: Option<String>,
    /// The only directory the hook writes profiles to and reads baselines from: annotations
    /// name files relative to it (absolute paths only if beneath it); `..`, symlinks and special
    /// files are refused.
    #[arg(long, value_name = "DIR", default_value = crate::hook::DEFAULT_OUTPUT_DIR)]
    pub output_dir: std::path::PathBuf,
    /// How to record: eBPF where it can load (root and kernel BTF: no stop per syscall), else
    /// ptrace; or either one only.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: HookBackendArg,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).multiple(true).args(["monitor", "learn"])))]
pub struct AgentArgs {
    /// The socket runtimes connect to (the bundles' `linux.seccomp.listenerPath`).
    #[arg(long, value_name = "PATH")]
    pub socket: std::path::PathBuf,
    /// Report every routed syscall, one JSON object per line, to FILE (appended) or stderr ("-").
    #[arg(long, value_name = "FILE|-")]
    pub monitor: Option<String>,
    /// Write one delta per container beneath DIR when it ends (named by container id, or by its
    /// io.syscage.learn=PATH annotation, relative to DIR), for containers in learn mode.
    #[arg(long, value_name = "DIR")]
    pub learn: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum HookBackendArg {
    Auto,
    Ebpf,
    Ptrace,
}

/// Ends the process with `code` once stdout is flushed, without the runtime's teardown (freeing
/// the signal stack is an munmap whose TLB shootdown is a visible part of a short `run`); every
/// value with a destructor that matters is gone by then.
pub fn exit(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    crate::sandbox::sys::exit_now(code)
}

/// Parses `args` and runs the command; returns the process exit code.
pub fn main_with<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::SYSCAGE_ERROR
            } else {
                0
            };
            let _ = e.print();
            return code;
        }
    };
    let result = match cli.command {
        Command::Run(args) => run::run(*args),
        Command::Record(args) => record::run(args),
        Command::Check(args) => profiles::check(args),
        Command::Merge(args) => profiles::merge(args),
        Command::Analyze(args) => analyze::run(args),
        Command::Report(args) => profiles::report(args),
        Command::Oci(cmd) => oci::run(cmd),
        Command::Agent(a) => crate::agent::main(crate::agent::AgentOptions {
            socket: a.socket,
            events: a.monitor.map(|m| match m.as_str() {
                "-" => crate::sandbox::watch::Events::Stderr,
                path => crate::sandbox::watch::Events::File(path.into()),
            }),
            learn_dir: a.learn,
        }),
        Command::Generate(cmd) => generate::run(cmd),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "syscage",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
        Command::Man { dir } => man::write(&dir)
            .map(|()| 0)
            .map_err(|source| crate::Error::Io { path: dir, source }),
        Command::Hook(args) => crate::hook::main(
            std::io::stdin(),
            &crate::hook::HookOptions {
                stage: args.stage,
                output_dir: args.output_dir,
                backend: match args.backend {
                    HookBackendArg::Auto => crate::hook::HookBackend::Auto,
                    HookBackendArg::Ebpf => crate::hook::HookBackend::Ebpf,
                    HookBackendArg::Ptrace => crate::hook::HookBackend::Ptrace,
                },
            },
        ),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("syscage: error: {e}");
            e.exit_code()
        }
    }
}
