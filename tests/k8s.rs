//! `syscage generate k8s`: every generated custom resource validates against the Security
//! Profiles Operator's CRD schema (tests/fixtures/spo-*-crd.yaml), strictly: unknown fields are
//! errors, as with `kubectl apply --validate=strict`.

mod common;

use serde_json::Value;

use common::*;

/// The openAPIV3Schema of `version` in a CRD, made strict: objects with declared properties
/// reject undeclared ones (Kubernetes would silently prune them).
fn crd_schema(crd: &str, version: &str) -> (String, String, Value) {
    let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(fixture(crd)).unwrap()).unwrap();
    let group = doc["spec"]["group"].as_str().unwrap().to_string();
    let kind = doc["spec"]["names"]["kind"].as_str().unwrap().to_string();
    let v = doc["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == version)
        .expect("version in CRD");
    assert_eq!(v["served"], true, "{crd} {version} must be served");
    let mut schema = v["schema"]["openAPIV3Schema"].clone();
    fn strict(s: &mut Value) {
        if let Some(o) = s.as_object_mut() {
            if o.contains_key("properties")
                && !o.contains_key("x-kubernetes-preserve-unknown-fields")
            {
                o.insert("additionalProperties".into(), Value::Bool(false));
            }
            for (_, v) in o.iter_mut() {
                strict(v);
            }
        } else if let Some(a) = s.as_array_mut() {
            a.iter_mut().for_each(strict);
        }
    }
    strict(&mut schema);
    (group, kind, schema)
}

fn validate(doc: &Value, crd: &str) {
    let api = doc["apiVersion"].as_str().unwrap();
    let (group, version) = api.split_once('/').unwrap();
    let (crd_group, kind, schema) = crd_schema(crd, version);
    assert_eq!(group, crd_group);
    assert_eq!(doc["kind"], kind.as_str());
    let validator = jsonschema::validator_for(&schema).expect("CRD schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{kind} does not validate:\n{}\n{}",
        errors.join("\n"),
        serde_json::to_string_pretty(doc).unwrap()
    );
}

fn documents(yaml: &str) -> Vec<Value> {
    yaml.split("\n---\n")
        .skip(1)
        .map(|d| serde_yaml::from_str::<Value>(d).expect("valid YAML"))
        .collect()
}

#[test]
fn generated_resources_validate_against_the_spo_crds() {
    let dir = TempDir::new("k8s");
    // From a real recording, with AppArmor.
    let rec = dir.join("r.rec");
    let mut c = clean_command(syscage());
    c.args(["record", "-q", "--args", "-o"]).arg(dir.join("p.json")).arg("--recording").arg(&rec).args([
        "--", "/usr/bin/python3", "-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(open('/etc/hostname').read() != '')",
    ]);
    run_command(c).assert_code(0);
    let out = dir.join("k8s.yaml");
    let sc = dir.join("sc.yaml");
    syscage_run(&[
        "generate",
        "k8s",
        "--name",
        "web-app",
        "--namespace",
        "prod",
        "--recording",
        rec.to_str().unwrap(),
        "--apparmor",
        "-o",
        out.to_str().unwrap(),
        "--security-context",
        sc.to_str().unwrap(),
    ])
    .assert_code(0);
    let text = std::fs::read_to_string(&out).unwrap();
    let docs = documents(&text);
    assert_eq!(docs.len(), 2, "{text}");
    validate(&docs[0], "spo-seccompprofile-crd.yaml");
    validate(&docs[1], "spo-apparmorprofile-crd.yaml");
    assert_eq!(docs[0]["metadata"]["namespace"], "prod");
    // The SeccompProfile allows what the recorded profile allows.
    let allowed: std::collections::BTreeSet<String> = docs[0]["spec"]["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "SCMP_ACT_ALLOW")
        .flat_map(|r| {
            r["names"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap().to_string())
        })
        .collect();
    for n in ["socket", "bind", "execve", "exit_group"] {
        assert!(allowed.contains(n), "{n}");
    }
    assert!(docs[1]["spec"]["abstract"]["network"]["allowedProtocols"]["allowTcp"] == true);
    // The securityContext meets Pod Security "restricted".
    let sc: Value = serde_yaml::from_str(&std::fs::read_to_string(&sc).unwrap()).unwrap();
    let sc = &sc["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(sc["seccompProfile"]["type"], "Localhost");
    assert_eq!(
        sc["seccompProfile"]["localhostProfile"],
        "operator/prod/web-app.json"
    );
    assert_eq!(sc["appArmorProfile"]["type"], "Localhost");
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert!(
        text.contains("# securityContext:"),
        "the snippet is also in the main output"
    );

    // From Docker's default profile (conditional rules resolved first).
    let docker = fixture("docker-default-seccomp.json");
    let out = syscage_run(&[
        "generate",
        "k8s",
        "--name",
        "docker-default",
        "--seccomp",
        docker.to_str().unwrap(),
    ]);
    let docs = documents(&out.assert_code(0).stdout);
    validate(&docs[0], "spo-seccompprofile-crd.yaml");

    // Control: the strict schema really rejects what the CRD does not declare.
    let mut bad = docs[0].clone();
    bad["spec"]["syscalls"][0]["comment"] = Value::String("not in the CRD".into());
    let (_, _, schema) = crd_schema("spo-seccompprofile-crd.yaml", "v1");
    assert!(!jsonschema::validator_for(&schema).unwrap().is_valid(&bad));
}

#[test]
fn bad_arguments_are_named() {
    let rec = fixture("golden/web.rec");
    let out = syscage_run(&[
        "generate",
        "k8s",
        "--name",
        "Bad_Name",
        "--recording",
        rec.to_str().unwrap(),
    ]);
    out.assert_code(125);
    assert!(out.stderr.contains("Bad_Name"), "{}", out.stderr);
    syscage_run(&[
        "generate",
        "k8s",
        "--name",
        "x",
        "--apparmor",
        "--seccomp",
        fixture("docker-default-seccomp.json").to_str().unwrap(),
    ])
    .assert_code(125);
    let out = syscage_run(&[
        "generate",
        "k8s",
        "--name",
        "x",
        "--recording",
        "/no/such.rec",
    ]);
    out.assert_code(125);
    assert!(out.stderr.contains("/no/such.rec"), "{}", out.stderr);
}

/// podman with a test-only containers.conf (its runtime crun without cgroups, the ulimits this
/// VM allows) in a pure-cgroup2 private mount namespace.
fn podman(conf: &std::path::Path, args: &[&str]) -> Out {
    let mut c = runtime_command("podman");
    c.env("CONTAINERS_CONF", conf).args(args);
    run_command(c)
}

/// A busybox image holding the probe and the libraries it loads.
fn probe_image(dir: &std::path::Path, tag: &str) {
    let root = dir.join("rootfs");
    busybox_rootfs(&root);
    std::fs::copy(probe(), root.join("bin/probe")).unwrap();
    let ldd = run_command({
        let mut c = std::process::Command::new("ldd");
        c.arg(probe());
        c
    });
    for lib in ldd.stdout.split_whitespace().filter(|w| w.starts_with('/')) {
        let dst = root.join(lib.trim_start_matches('/'));
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(lib, &dst).unwrap();
    }
    let tar = dir.join("rootfs.tar");
    run_command({
        let mut c = std::process::Command::new("tar");
        c.arg("-C").arg(&root).arg("-cf").arg(&tar).arg(".");
        c
    })
    .assert_code(0);
    let conf = dir.join("containers.conf");
    let out = podman(&conf, &["import", "-q", tar.to_str().unwrap(), tag]);
    assert_eq!(
        out.code, 0,
        "podman import: {} (install podman; .ci/run does)",
        out.stderr
    );
}

/// `generate k8s --pod` output run by a real consumer: `podman kube play` with
/// `--seccomp-profile-root` runs the Pod under the generated Localhost profile. What the
/// recording saw works; a syscall it never made (a netlink socket, which podman's own default
/// profile allows) is denied.
#[test]
fn podman_kube_play_runs_the_generated_pod_under_its_profile() {
    let work = TempDir::new("kube");
    let name = unique("kube-");
    let image = format!("localhost/{name}:1");
    // The test's podman configuration; cgroups: see tests/support/crun-no-cgroups.sh.
    let conf = work.join("containers.conf");
    std::fs::write(
        &conf,
        format!(
            "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\
             [engine]\ncgroup_manager = \"cgroupfs\"\nruntime = \"nocgroups\"\n\
             [engine.runtimes]\nnocgroups = [\"{}/tests/support/crun-no-cgroups.sh\"]\n",
            env!("CARGO_MANIFEST_DIR")
        ),
    )
    .unwrap();
    // What the test creates outside its directory, removed at the end whatever happens: the
    // image, the pause image podman builds for pods (if it was not there), the pods' parent
    // cgroup (likewise).
    let images_now = || -> Vec<String> {
        podman(&conf, &["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .stdout
            .lines()
            .map(String::from)
            .collect()
    };
    let images_before = images_now();
    let cgroup_parent_existed = run_command({
        let mut c = std::process::Command::new(cgroup2_ns());
        c.args(["test", "-d", "/sys/fs/cgroup/libpod_parent"]);
        c
    })
    .code
        == 0;
    struct Cleanup<'a> {
        conf: std::path::PathBuf,
        image: String,
        images_before: Vec<String>,
        images_now: &'a dyn Fn() -> Vec<String>,
        yaml: std::path::PathBuf,
        cgroup_parent: bool,
    }
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let _ = podman(&self.conf, &["kube", "down", self.yaml.to_str().unwrap()]);
            let _ = podman(&self.conf, &["rmi", "-f", &self.image]);
            // The pause image podman builds for the pod's infra container, if it was not there.
            for i in (self.images_now)() {
                if i.starts_with("localhost/podman-pause:") && !self.images_before.contains(&i) {
                    let _ = podman(&self.conf, &["rmi", "-f", &i]);
                }
            }
            if self.cgroup_parent {
                let mut c = std::process::Command::new(cgroup2_ns());
                c.args(["rmdir", "/sys/fs/cgroup/libpod_parent"]);
                let _ = c.output();
            }
        }
    }
    let yaml = work.join("pod.yaml");
    let _cleanup = Cleanup {
        conf: conf.clone(),
        image: image.clone(),
        images_before,
        images_now: &images_now,
        yaml: yaml.clone(),
        cgroup_parent: !cgroup_parent_existed,
    };
    probe_image(work.path(), &image);

    // Record the probe doing getppid, then generate the resources, the Pod and the node's file.
    let recorded = work.join("probe.json");
    let p = probe();
    syscage_run(&[
        "record",
        "-q",
        "-o",
        recorded.to_str().unwrap(),
        "--",
        p.to_str().unwrap(),
        "syscall",
        "getppid",
    ])
    .assert_code(0);
    let seccomp_root = work.join("seccomp");
    syscage_run(&[
        "generate",
        "k8s",
        "--name",
        &name,
        "--seccomp",
        recorded.to_str().unwrap(),
        "--pod",
        &image,
        "--restart-policy",
        "Never",
        "--localhost-dir",
        seccomp_root.to_str().unwrap(),
        // podman 4.x reads only the first component of the annotation's path.
        "--localhost-profile",
        &format!("{name}.json"),
        "-o",
        yaml.to_str().unwrap(),
        "--",
        "/bin/probe",
        "syscall",
        "getppid",
        "netlink",
    ])
    .assert_code(0);
    assert!(seccomp_root.join(format!("{name}.json")).is_file());

    let play = |file: &std::path::Path| -> String {
        let out = podman(
            &conf,
            &[
                "kube",
                "play",
                "--seccomp-profile-root",
                seccomp_root.to_str().unwrap(),
                file.to_str().unwrap(),
            ],
        );
        assert_eq!(out.code, 0, "podman kube play: {}", out.stderr);
        let ctr = format!("{name}-{name}");
        podman(&conf, &["wait", &ctr]).assert_code(0);
        let logs = podman(&conf, &["logs", &ctr]);
        podman(&conf, &["kube", "down", file.to_str().unwrap()]).assert_code(0);
        logs.stdout
    };
    let logs = play(&yaml);
    assert!(logs.contains("getppid: ok"), "{logs}");
    assert!(
        logs.contains("netlink: EPERM"),
        "the generated profile must deny it: {logs}"
    );

    // Control: the same Pod without the Localhost profile (podman's default profile applies).
    let text = std::fs::read_to_string(&yaml).unwrap();
    let control = work.join("control.yaml");
    std::fs::write(
        &control,
        text.lines()
            .filter(|l| !l.contains("container.seccomp.security.alpha.kubernetes.io"))
            .filter(|l| !l.trim_start().starts_with("annotations:"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    let logs = play(&control);
    assert!(logs.contains("netlink: ok"), "control: {logs}");
}

/// One Localhost profile name everywhere: the Pod's field and annotation, the commented
/// securityContext and the `--security-context` file (before, the last two kept the operator's
/// default path when `--localhost-profile` named another).
#[test]
fn the_localhost_profile_name_is_the_same_everywhere() {
    let dir = TempDir::new("k8snames");
    let profile = dir.join("p.json");
    std::fs::write(&profile, r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write","exit_group","execve"],"action":"SCMP_ACT_ALLOW"}]}"#).unwrap();
    for (flag, want) in [
        (Some("uxredis.json"), "uxredis.json"),
        (None, "operator/default/uxredis.json"),
    ] {
        let out_file = dir.join("k.yaml");
        let sc_file = dir.join("sc.yaml");
        let mut args = vec![
            "generate",
            "k8s",
            "--name",
            "uxredis",
            "--seccomp",
            profile.to_str().unwrap(),
            "--pod",
            "redis:7",
            "-o",
            out_file.to_str().unwrap(),
            "--security-context",
            sc_file.to_str().unwrap(),
        ];
        if let Some(f) = flag {
            args.extend(["--localhost-profile", f]);
        }
        args.extend(["--", "redis-server"]);
        syscage_run(&args).assert_code(0);
        let all = std::fs::read_to_string(&out_file).unwrap()
            + &std::fs::read_to_string(&sc_file).unwrap();
        let named: Vec<&str> = all
            .lines()
            .filter_map(|l| {
                l.split_once("localhostProfile: ")
                    .map(|(_, v)| v)
                    .or_else(|| l.split_once("\"localhost/").map(|(_, v)| v))
            })
            .map(|v| v.trim_matches('"'))
            .collect();
        assert_eq!(named.len(), 4, "{all}");
        assert!(named.iter().all(|n| *n == want), "{named:?}");
    }
}
