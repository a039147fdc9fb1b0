//! `--arch x86_64,aarch64` for `record`, `merge` and `generate`: the translation, said on stderr.

use crate::error::Error;
use crate::model::{Abi, Recording};
use crate::profile::arch;
use crate::profile::generate::native_abi;
use crate::profile::seccomp::SeccompProfile;

/// The help text every `--arch` shares.
pub const HELP: &str = "Write one profile for these architectures (x86_64,aarch64; also amd64, arm64): a syscall one of them lacks (open, stat, fork on aarch64) brings the ones its libc calls there instead (openat, newfstatat, clone), from profiles/arch-equivalents.json, each with its reason";

pub fn parse(arg: Option<&str>) -> Result<Option<Vec<Abi>>, Error> {
    arg.map(|s| arch::parse_arches(s).map_err(Error::Usage))
        .transpose()
}

/// The architectures a recording's names were made on (the native one for an empty recording).
pub fn of_recording(rec: &Recording) -> Vec<Abi> {
    let v: Vec<Abi> = rec
        .abis()
        .into_iter()
        .filter(|a| arch::TRANSLATABLE.contains(a))
        .collect();
    if v.is_empty() { vec![native_abi()] } else { v }
}

/// The architectures a profile was written for (the native one when it lists none).
pub fn of_profile(p: &SeccompProfile) -> Vec<Abi> {
    let v = arch::listed(p);
    if v.is_empty() { vec![native_abi()] } else { v }
}

/// Translates `p` (made on `from`) for `to`, when given; `what` names it in messages.
pub fn apply(
    p: SeccompProfile,
    from: &[Abi],
    to: Option<&[Abi]>,
    what: &str,
    quiet: bool,
) -> Result<SeccompProfile, Error> {
    let Some(to) = to else { return Ok(p) };
    let (out, tr) =
        arch::translate(&p, from, to).map_err(|e| Error::Input(format!("{what}: {e}")))?;
    for (i, line) in tr.lines().iter().enumerate() {
        // The summary line is chatter; what has no equivalent is a warning.
        if i == 0 && !quiet {
            eprintln!("syscage: {what}: {line}");
        } else if i > 0 {
            eprintln!("syscage: warning: {what}: {line}");
        }
    }
    Ok(out)
}
