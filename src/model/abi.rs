//! Syscall ABIs: the kernel's AUDIT_ARCH values, their seccomp names, and syscall numbering.

use std::fmt;
use std::str::FromStr;

use oci_spec::runtime::Arch;
use serde::{Deserialize, Serialize};

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const AUDIT_ARCH_AARCH64: u32 = 0xC000_00B7;
/// x32 syscalls arrive with the x86_64 audit arch and this bit set in the number.
const X32_SYSCALL_BIT: i64 = 0x4000_0000;

/// The `syscalls` crate (0.8) names aarch64's nr 79 `fstatat`; the kernel, libseccomp and every
/// profile call it `newfstatat`.
const AARCH64_NEWFSTATAT: usize = 79;
/// The crate's aarch64 table also lists the 32-bit-only `*_time64` calls (403-423), which a
/// 64-bit arm kernel does not have (asm-generic defines them for 32-bit and compat only).
const AARCH64_ONLY_32BIT: std::ops::RangeInclusive<usize> = 403..=423;

/// An ABI a syscall was made through. Names are what `uname -m`-style tools and the `syscalls`
/// crate use; `seccomp_arch` gives the profile's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Abi {
    X86_64,
    /// i386, reached from 64-bit code through `int 0x80` or by a 32-bit binary.
    I386,
    X32,
    Aarch64,
}

impl Abi {
    /// The ABI and the ABI-local syscall number for a kernel (audit arch, nr) pair.
    pub fn from_audit(arch: u32, nr: i64) -> Option<(Abi, i64)> {
        match arch {
            AUDIT_ARCH_X86_64 if nr & X32_SYSCALL_BIT != 0 => {
                Some((Abi::X32, nr & !X32_SYSCALL_BIT))
            }
            AUDIT_ARCH_X86_64 => Some((Abi::X86_64, nr)),
            AUDIT_ARCH_I386 => Some((Abi::I386, nr)),
            AUDIT_ARCH_AARCH64 => Some((Abi::Aarch64, nr)),
            _ => None,
        }
    }

    pub fn seccomp_arch(self) -> Arch {
        match self {
            Abi::X86_64 => Arch::ScmpArchX86_64,
            Abi::I386 => Arch::ScmpArchX86,
            Abi::X32 => Arch::ScmpArchX32,
            Abi::Aarch64 => Arch::ScmpArchAarch64,
        }
    }

    /// The ABI of a profile's architecture, if syscage has its syscall table.
    pub fn from_seccomp_arch(arch: Arch) -> Option<Abi> {
        [Abi::X86_64, Abi::I386, Abi::X32, Abi::Aarch64]
            .into_iter()
            .find(|a| a.seccomp_arch() == arch)
    }

    /// Every syscall name in this ABI's table.
    pub fn syscall_names(self) -> impl Iterator<Item = &'static str> {
        (0..1024).filter_map(move |nr| self.syscall_name(nr))
    }

    /// The syscall's name in this ABI's table (x32 shares x86_64's names).
    pub fn syscall_name(self, nr: i64) -> Option<&'static str> {
        let nr = usize::try_from(nr).ok()?;
        match self {
            Abi::X86_64 | Abi::X32 => syscalls::x86_64::Sysno::new(nr).map(|s| s.name()),
            Abi::I386 => syscalls::x86::Sysno::new(nr).map(|s| s.name()),
            Abi::Aarch64 => match nr {
                AARCH64_NEWFSTATAT => Some("newfstatat"),
                n if AARCH64_ONLY_32BIT.contains(&n) => None,
                _ => syscalls::aarch64::Sysno::new(nr).map(|s| s.name()),
            },
        }
    }

    /// The syscall number of `name` in this ABI, if it has one.
    pub fn syscall_nr(self, name: &str) -> Option<i64> {
        match self {
            Abi::X86_64 | Abi::X32 => syscalls::x86_64::Sysno::from_str(name)
                .ok()
                .map(|s| i64::from(s.id())),
            Abi::I386 => syscalls::x86::Sysno::from_str(name)
                .ok()
                .map(|s| i64::from(s.id())),
            Abi::Aarch64 => match name {
                "newfstatat" => Some(AARCH64_NEWFSTATAT as i64),
                "fstatat" => None,
                _ => syscalls::aarch64::Sysno::from_str(name)
                    .ok()
                    .map(|s| s.id() as usize)
                    .filter(|n| !AARCH64_ONLY_32BIT.contains(n))
                    .map(|n| n as i64),
            },
        }
    }

    /// A `--arch` name: the kernel's (x86_64, aarch64), Go's (amd64, arm64) or the profile's
    /// (SCMP_ARCH_X86_64, SCMP_ARCH_AARCH64), in any case.
    pub fn parse(name: &str) -> Option<Abi> {
        match name.to_ascii_lowercase().as_str() {
            "x86_64" | "amd64" | "scmp_arch_x86_64" => Some(Abi::X86_64),
            "aarch64" | "arm64" | "scmp_arch_aarch64" => Some(Abi::Aarch64),
            "i386" | "x86" | "386" | "scmp_arch_x86" => Some(Abi::I386),
            "x32" | "scmp_arch_x32" => Some(Abi::X32),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Abi::X86_64 => "x86_64",
            Abi::I386 => "i386",
            Abi::X32 => "x32",
            Abi::Aarch64 => "aarch64",
        }
    }
}

impl fmt::Display for Abi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i386_numbers_use_the_i386_table() {
        // nr 20 is getpid on i386 but writev on x86_64: naming it with the wrong table is the
        // classic mistake (sysbox-fs#91).
        assert_eq!(Abi::from_audit(AUDIT_ARCH_I386, 20), Some((Abi::I386, 20)));
        assert_eq!(Abi::I386.syscall_name(20), Some("getpid"));
        assert_eq!(Abi::X86_64.syscall_name(20), Some("writev"));
        assert_eq!(
            Abi::from_audit(AUDIT_ARCH_X86_64, 0x4000_0001),
            Some((Abi::X32, 1))
        );
        assert_eq!(Abi::X86_64.syscall_nr("getppid"), Some(110));
        assert_eq!(Abi::from_audit(0x1234, 1), None);
    }

    /// The names and numbers syscage uses for aarch64 are libseccomp's (which runtimes compile
    /// profiles with): a name the crate spells differently would be dropped by every runtime.
    #[test]
    fn aarch64_table_agrees_with_libseccomp() {
        use libseccomp::{ScmpArch, ScmpSyscall};
        let mut unknown = Vec::new();
        for name in Abi::Aarch64.syscall_names() {
            let nr = Abi::Aarch64.syscall_nr(name).unwrap();
            match ScmpSyscall::from_name_by_arch(name, ScmpArch::Aarch64) {
                Ok(s) if s.as_raw_syscall() >= 0 => {
                    assert_eq!(i64::from(s.as_raw_syscall()), nr, "{name}")
                }
                // Newer than this libseccomp (Debian 12 has 2.5.4): runtimes skip it too.
                _ => unknown.push(name),
            }
        }
        assert!(
            unknown
                .iter()
                .all(|n| Abi::Aarch64.syscall_nr(n).unwrap() >= 424),
            "{unknown:?}"
        );
        assert_eq!(Abi::Aarch64.syscall_name(79), Some("newfstatat"));
        assert_eq!(Abi::Aarch64.syscall_name(403), None);
        assert_eq!(Abi::Aarch64.syscall_nr("open"), None);
        assert_eq!(Abi::parse("ARM64"), Some(Abi::Aarch64));
        assert_eq!(Abi::parse("SCMP_ARCH_X86_64"), Some(Abi::X86_64));
    }
}
