//! `examples/demo.sh` on a machine that lacks its tools: run as a user, it names the one
//! command that installs them and exits 2; run as root with apt-get, it installs them itself,
//! one line per package. (The whole demo on a fresh Debian is `.ci/fresh-demo`.)

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use common::*;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo.sh");

/// A PATH directory where the demo finds cargo, make, python3 and cc but no rpm or rpmbuild,
/// `id -u` prints `uid`, and apt-get records its arguments in `apt-get.log` and fails (so
/// the demo stops right after asking it). Only the shell tools the check uses are real.
fn machine_without_rpm(bin: &Path, uid: u32) {
    let script = |name: &str, body: &str| {
        let path = bin.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    for present in ["cargo", "make", "python3", "cc"] {
        script(present, "exit 0");
    }
    script("id", &format!("echo {uid}"));
    script("apt-get", &format!("echo \"$*\" >> {}/apt-get.log; exit 1", bin.display()));
    for real in ["sh", "dirname", "cut", "tr", "mktemp", "cat", "rm"] {
        let target = ["/usr/bin", "/bin"].iter().map(|d| Path::new(d).join(real)).find(|p| p.exists()).unwrap();
        std::os::unix::fs::symlink(target, bin.join(real)).unwrap();
    }
}

fn run_demo(bin: &Path) -> Output {
    // By path: the PATH given to the demo would be the one searched for bash.
    let bash = ["/usr/bin/bash", "/bin/bash"].into_iter().find(|p| Path::new(p).exists()).expect("bash");
    Command::new(bash).arg(DEMO).env_clear().env("PATH", bin).env("HOME", bin).output().unwrap()
}

#[test]
fn as_a_user_it_prints_the_one_command_and_exits_2() {
    if !have("bash") {
        return;
    }
    let tree = Tree::new();
    machine_without_rpm(tree.root(), 1000);
    let out = run_demo(tree.root());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not found: rpm\n") && stderr.contains("not found: rpmbuild\n"), "{stderr}");
    // rpm and rpmbuild come in one Debian package: named once, in the one command.
    let commands: Vec<&str> = stderr.lines().filter(|l| l.trim_start().starts_with("sudo ")).collect();
    assert_eq!(commands, ["    sudo apt-get install -y rpm"], "{stderr}");
    assert!(!tree.path("apt-get.log").exists(), "apt-get ran for a user");
}

#[test]
fn as_root_it_installs_the_missing_packages_saying_so() {
    if !have("bash") {
        return;
    }
    let tree = Tree::new();
    machine_without_rpm(tree.root(), 0);
    let out = run_demo(tree.root());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let said: Vec<&str> = stdout.lines().filter(|l| l.starts_with("demo: installing")).collect();
    assert_eq!(said, ["demo: installing rpm with apt-get"], "{stdout}{stderr}");
    let asked = std::fs::read_to_string(tree.path("apt-get.log")).unwrap();
    assert_eq!(asked, "update -qq\n", "apt-get failed at update, so install is not asked");
    // apt-get failing is the demo's failure, with apt-get's own words shown.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("demo: apt-get install rpm failed"), "{stderr}");
}
