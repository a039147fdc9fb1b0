//! What a runtime sends `syscage agent` on a `listenerPath` connection: the OCI container
//! process state (JSON) with the seccomp listener as an SCM_RIGHTS descriptor. Anyone who can
//! create a container chooses its annotations and metadata: everything is checked here. Pure.

use std::path::{Path, PathBuf};

use oci_spec::runtime::ContainerProcessState;

use crate::hook::request::confine;
use crate::profile::watch::Metadata;

/// The annotation naming a container's learn delta, relative to the agent's `--learn DIR`.
pub const LEARN_ANNOTATION: &str = "io.syscage.learn";

/// A container to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub id: String,
    pub pid: i32,
    /// Which received descriptor is the seccomp listener.
    pub fd_index: usize,
    /// Which one is a pidfd of the container's process (`pidFd`, sent by newer runtimes).
    pub pidfd_index: Option<usize>,
    pub meta: Metadata,
    /// Where its delta goes, relative to the learn directory.
    pub delta: PathBuf,
}

/// Parses the message (`nfds` descriptors came with it). `learn_dir` confines the annotation.
pub fn parse(bytes: &[u8], nfds: usize, learn_dir: &Path) -> Result<Request, String> {
    let state: ContainerProcessState = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "the runtime's message is not an OCI container process state: {e} (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    let id = state.state().id().to_string();
    let fd_index = state
        .fds()
        .iter()
        .position(|f| f == "seccompFd")
        .ok_or_else(|| format!("container {id}: no \"seccompFd\" among the descriptors sent"))?;
    if fd_index >= nfds {
        return Err(format!(
            "container {id}: \"seccompFd\" is descriptor {fd_index} but {nfds} came with the message"
        ));
    }
    let pidfd_index = state
        .fds()
        .iter()
        .position(|f| f == "pidFd")
        .filter(|i| *i < nfds && *i != fd_index);
    let meta = Metadata::parse(state.metadata().as_deref().unwrap_or(""))
        .map_err(|e| format!("container {id}: {e} (set it with syscage oci apply --agent)"))?;
    let delta = match state
        .state()
        .annotations()
        .as_ref()
        .and_then(|a| a.get(LEARN_ANNOTATION))
    {
        Some(v) => {
            confine(LEARN_ANNOTATION, v, learn_dir).map_err(|e| format!("container {id}: {e}"))?
        }
        // One to one, so that two containers never write the same delta.
        None => PathBuf::from(format!(
            "{}.rec",
            crate::model::container_id::file_name(&id)
                .ok_or_else(|| format!("container {id}: the id is too long to name its delta"))?
        )),
    };
    Ok(Request {
        id,
        pid: *state.pid(),
        fd_index,
        pidfd_index,
        meta,
        delta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::seccomp::Action;
    use crate::profile::watch::Mode;

    fn msg(id: &str, fds: &str, meta: &str, annotations: &str) -> Vec<u8> {
        format!(
            r#"{{"ociVersion":"1.0.2","fds":[{fds}],"pid":42,"metadata":"{meta}",
               "state":{{"ociVersion":"1.0.2","id":"{id}","status":"creating","pid":42,
               "bundle":"/b","annotations":{{{annotations}}}}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn states_from_runc_and_crun_are_read() {
        let dir = Path::new("/var/lib/syscage/learn");
        let r = parse(
            &msg(
                "web-1",
                r#""seccompFd""#,
                "syscage mode=learn default=errno:1",
                "",
            ),
            1,
            dir,
        )
        .unwrap();
        assert_eq!(r.id, "web-1");
        assert_eq!(r.pid, 42);
        assert_eq!(r.fd_index, 0);
        assert_eq!(r.meta.mode, Mode::Learn);
        assert_eq!(r.meta.default, Action::Errno(1));
        assert_eq!(r.delta, PathBuf::from("web-1.rec"));
        let r = parse(
            &msg(
                "x",
                r#""other","seccompFd""#,
                "syscage mode=monitor default=kill-process",
                r#""io.syscage.learn":"team/app.rec""#,
            ),
            2,
            dir,
        )
        .unwrap();
        assert_eq!((r.fd_index, r.delta), (1, PathBuf::from("team/app.rec")));
        // An id is a file name, never a path.
        let r = parse(
            &msg(
                "../../etc/x",
                r#""seccompFd""#,
                "syscage mode=learn default=errno:1",
                "",
            ),
            1,
            dir,
        )
        .unwrap();
        assert_eq!(r.delta, PathBuf::from("_2e_2e_2f_2e_2e_2fetc_2fx.rec"));
    }

    #[test]
    fn hostile_or_broken_messages_are_refused_by_name() {
        let dir = Path::new("/var/lib/syscage/learn");
        let ok_meta = "syscage mode=learn default=errno:1";
        for (bytes, n, needle) in [
            (b"{".to_vec(), 1, "not an OCI container process state"),
            (msg("a", r#""x""#, ok_meta, ""), 1, "no \"seccompFd\""),
            (
                msg("a", r#""seccompFd""#, ok_meta, ""),
                0,
                "came with the message",
            ),
            (msg("a", r#""seccompFd""#, "hello", ""), 1, "not syscage's"),
            (
                msg(
                    "a",
                    r#""seccompFd""#,
                    ok_meta,
                    r#""io.syscage.learn":"/etc/cron.d/x""#,
                ),
                1,
                "outside",
            ),
            (
                msg(
                    "a",
                    r#""seccompFd""#,
                    ok_meta,
                    r#""io.syscage.learn":"../x""#,
                ),
                1,
                "\"..\"",
            ),
        ] {
            let e = parse(&bytes, n, dir).unwrap_err();
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }
}
