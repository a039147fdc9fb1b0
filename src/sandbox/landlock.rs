//! Enforces a Landlock ruleset (`profile::landlock`) on the workload, best effort across kernel
//! ABIs, and says what was actually applied.

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, NetPort, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus,
};

use super::SandboxError;
use super::sys;
use crate::profile::landlock::Ruleset as RulesetFile;

/// What enforcement achieved.
#[derive(Debug, Clone)]
pub struct Applied {
    pub abi: i32,
    pub fully: bool,
    pub status: String,
    pub path_rules: usize,
    pub port_rules: usize,
    /// Rule paths that do not exist in the sandbox (skipped: nothing there to allow).
    pub missing: Vec<String>,
}

fn right(name: &str) -> BitFlags<AccessFs> {
    match name {
        "execute" => AccessFs::Execute.into(),
        "write_file" => AccessFs::WriteFile.into(),
        "read_file" => AccessFs::ReadFile.into(),
        "read_dir" => AccessFs::ReadDir.into(),
        "remove_dir" => AccessFs::RemoveDir.into(),
        "remove_file" => AccessFs::RemoveFile.into(),
        "make_char" => AccessFs::MakeChar.into(),
        "make_dir" => AccessFs::MakeDir.into(),
        "make_reg" => AccessFs::MakeReg.into(),
        "make_sock" => AccessFs::MakeSock.into(),
        "make_fifo" => AccessFs::MakeFifo.into(),
        "make_block" => AccessFs::MakeBlock.into(),
        "make_sym" => AccessFs::MakeSym.into(),
        "refer" => AccessFs::Refer.into(),
        "truncate" => AccessFs::Truncate.into(),
        "ioctl_dev" => AccessFs::IoctlDev.into(),
        _ => BitFlags::empty(),
    }
}

fn err(what: &str) -> impl FnOnce(landlock::RulesetError) -> SandboxError + '_ {
    move |e| SandboxError::Message(format!("landlock: {what}: {e}"))
}

/// Restricts the calling process. Runs in the workload after no_new_privs, before capabilities
/// and seccomp.
pub fn apply(file: &RulesetFile) -> Result<Applied, SandboxError> {
    let kernel = sys::landlock_abi();
    if kernel == 0 {
        return Ok(Applied {
            abi: 0,
            fully: false,
            status: "not enforced: this kernel has no Landlock".into(),
            path_rules: 0,
            port_rules: 0,
            missing: Vec::new(),
        });
    }
    let abi = ABI::from(kernel);
    let fs = AccessFs::from_all(abi);
    let mut ruleset = Ruleset::default()
        .handle_access(fs)
        .map_err(err("handling file access"))?;
    let net = kernel >= 4;
    if net {
        ruleset = ruleset
            .handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)
            .map_err(err("handling TCP access"))?;
    }
    let mut created = ruleset.create().map_err(err("creating the ruleset"))?;
    let mut applied = Applied {
        abi: kernel,
        fully: false,
        status: String::new(),
        path_rules: 0,
        port_rules: 0,
        missing: Vec::new(),
    };
    for rule in &file.paths {
        let access = rule
            .access
            .iter()
            .fold(BitFlags::empty(), |a, n| a | right(n))
            & fs;
        let Ok(fd) = PathFd::new(&rule.path) else {
            applied.missing.push(rule.path.clone());
            continue;
        };
        created = created
            .add_rule(PathBeneath::new(fd, access))
            .map_err(err(&rule.path))?;
        applied.path_rules += 1;
    }
    if net {
        for (ports, access) in [
            (&file.tcp_bind, AccessNet::BindTcp),
            (&file.tcp_connect, AccessNet::ConnectTcp),
        ] {
            for port in ports {
                created = created
                    .add_rule(NetPort::new(*port, access))
                    .map_err(err("adding a port rule"))?;
                applied.port_rules += 1;
            }
        }
    }
    let status = created
        .restrict_self()
        .map_err(err("restricting the process"))?;
    applied.fully = status.ruleset == RulesetStatus::FullyEnforced;
    applied.status = match status.ruleset {
        RulesetStatus::FullyEnforced => "fully enforced".into(),
        RulesetStatus::PartiallyEnforced => {
            "partially enforced (the kernel lacks some access rights)".into()
        }
        RulesetStatus::NotEnforced => "not enforced".into(),
    };
    let has_ports = !file.tcp_bind.is_empty() || !file.tcp_connect.is_empty();
    if !net && has_ports {
        applied.fully = false;
        applied
            .status
            .push_str("; TCP port rules need Landlock ABI 4");
    }
    Ok(applied)
}
