//! An `EbpfLoader` that does not parse the kernel's BTF.
//!
//! aya 0.14's `EbpfLoader::new()` reads and parses the whole of /sys/kernel/btf/vmlinux (5.5 MB,
//! ~20 ms of a 36 ms start here) for CO-RE relocation, which the object this boot kept has had
//! already (`core_cache`); aya offers no constructor without it, but skips it when the read
//! fails. So the loader is built in a thread whose root is a kernel-made directory that holds no
//! `sys` (nothing can be planted there): the read fails, the thread ends, its root with it.

use aya::EbpfLoader;

/// The loader, without the kernel's BTF when the thread trick works (else the plain one).
pub fn without_kernel_btf() -> (EbpfLoader<'static>, bool) {
    let built = std::thread::spawn(|| -> Result<EbpfLoader<'static>, nix::Error> {
        // The thread's own root: CLONE_FS unshares root and cwd from the other threads only.
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_FS)?;
        nix::unistd::chroot("/proc/self/fdinfo")?;
        nix::unistd::chdir("/")?;
        Ok(EbpfLoader::new())
    })
    .join();
    match built {
        Ok(Ok(loader)) => (loader, true),
        _ => (EbpfLoader::new(), false),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_loader_skips_the_kernel_btf_and_leaves_the_caller_root_alone() {
        let (_loader, skipped) = super::without_kernel_btf();
        // chroot needs CAP_SYS_CHROOT: as root (eBPF's only user) the parse is skipped; without
        // it the plain loader is built.
        assert_eq!(skipped, nix::unistd::geteuid().is_root());
        // The caller's root is untouched: the kernel's BTF is where it was.
        assert!(std::path::Path::new("/sys/kernel/btf/vmlinux").exists());
    }
}
