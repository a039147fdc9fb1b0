//! What a runtime sends `syscage agent`: the container process state (chosen in part by whoever
//! creates the container: annotations, metadata through the bundle) and a descriptor count.
//! Whatever it says, the delta path stays relative to the learn directory with no `..`, the
//! descriptor index is within what was sent, and metadata that parses re-encodes to itself.
//! The same bytes also go over a real socket to the agent's handshake (`agent_wire.rs`: partial
//! messages, descriptor counts and kinds): it ends, and leaves no descriptor open.
#![no_main]

mod agent_wire;

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;
use syscage::agent::request;
use syscage::profile::watch::Metadata;

static LISTENER: std::sync::OnceLock<Option<std::os::fd::OwnedFd>> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let _ = agent_wire::drive(data, LISTENER.get_or_init(agent_wire::own_listener).as_ref());
    let dir = Path::new("/var/lib/syscage/learn");
    let nfds = data.first().map_or(0, |b| usize::from(b % 4));
    if let Ok(r) = request::parse(data.get(1..).unwrap_or_default(), nfds, dir) {
        assert!(r.fd_index < nfds);
        assert!(r.delta.is_relative() && r.delta.components().count() > 0);
        assert!(
            r.delta
                .components()
                .all(|c| matches!(c, Component::Normal(_))),
            "{:?}",
            r.delta
        );
    }
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(m) = Metadata::parse(s)
    {
        assert_eq!(Metadata::parse(&m.encode()), Ok(m));
    }
});
