//! Replays the `agent_request` fuzz corpus through the agent's socket layer as the fuzz target
//! does (`fuzz/fuzz_targets/agent_wire.rs`): each input goes over a real socket, in chunks, with
//! descriptors of every kind. Alone in its test binary, so that counting this process's open
//! descriptors (no leak per input) is not disturbed by other tests' files.

#[path = "../fuzz/fuzz_targets/agent_wire.rs"]
mod agent_wire;

use std::path::Path;

#[test]
fn agent_handshakes_from_the_corpus_end_and_leak_no_descriptor() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/agent_request");
    let listener = agent_wire::own_listener();
    assert!(listener.is_some(), "a seccomp listener of our own");
    let mut inputs = 0;
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let data = std::fs::read(e.path()).unwrap();
        let _ = agent_wire::drive(&data, listener.as_ref());
        inputs += 1;
    }
    assert!(inputs >= 50, "{} holds only {inputs} inputs", dir.display());
    // Hand-made cases the corpus may not hold: a valid state with the real listener, one with a
    // regular file in its place, and 100 descriptors.
    let state = br#"{"ociVersion":"1.0.2","fds":["seccompFd"],"pid":1,"metadata":"syscage mode=monitor default=errno:1","state":{"ociVersion":"1.0.2","id":"c","status":"creating","pid":1,"bundle":"/b"}}"#;
    let cases: [(u8, u8, u8, &str); 5] = [
        (0, 1, 0, ""),
        (1, 1, 0, ""),
        (7, 1, 1, "not a seccomp notify descriptor"),
        (0, 9, 0, "more descriptors than a runtime sends"),
        (3, 9, 3, "more descriptors than a runtime sends"),
    ];
    for (chunk, count, kind, refusal) in cases {
        let mut data = vec![chunk, count];
        data.extend(std::iter::repeat_n(kind, if count > 8 { 100 } else { 1 }));
        data.extend_from_slice(state);
        let outcome = agent_wire::drive(&data, listener.as_ref());
        match refusal {
            "" => assert_eq!(outcome, Ok(()), "chunks of {chunk}"),
            why => assert!(
                outcome.as_ref().is_err_and(|e| e.contains(why)),
                "chunks of {chunk}, {count} fds of kind {kind}: {outcome:?}"
            ),
        }
    }
}
