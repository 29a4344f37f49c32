//! The files in `deploy/` say what they mean: every command they start parses
//! with the real CLI, and every configuration they carry compiles against the
//! shipped pipelines. (`.ci/run` also runs `systemd-analyze verify` on the units
//! and a schema check of the Kubernetes manifests.)

use clap::Parser;
use startwell::cli::{Cli, Command};

use crate::common::{TestProject, repo};

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `["a", "b"]` as strings (the JSON-compatible lists used in the manifests and Dockerfile).
fn list(s: &str) -> Vec<String> {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("not a list `{s}`: {e}"))
}

fn parse(args: &[String], from: &str) -> Cli {
    let mut argv = vec!["startwell".to_string()];
    argv.extend(args.iter().skip(1).cloned());
    Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{from}: `{}` does not parse:\n{e}", args.join(" ")))
}

#[test]
fn deploy_commands_parse_with_the_cli() {
    // systemd units.
    for (unit, expect) in [
        ("deploy/systemd/startwell-run.service", "run"),
        ("deploy/systemd/startwell-serve.service", "serve"),
    ] {
        let text = read(unit);
        let exec = text
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .unwrap_or_else(|| panic!("{unit}: no ExecStart"));
        let args: Vec<String> = exec.split_whitespace().map(String::from).collect();
        let cli = parse(&args, unit);
        let got = match cli.command {
            Command::Run { .. } => "run",
            Command::Serve { .. } => "serve",
            _ => "other",
        };
        assert_eq!(got, expect, "{unit}");
        assert!(
            text.contains("STARTWELL_HMAC_KEY_FILE"),
            "{unit}: the key must come from a credential"
        );
        assert!(
            !text.contains("STARTWELL_HMAC_KEY="),
            "{unit}: no key in the unit"
        );
    }
    let timer = read("deploy/systemd/startwell-run.timer");
    assert!(timer.contains("Unit=startwell-run.service") && timer.contains("Europe/London"));

    // The container: a multi-stage build, a non-root user, ENTRYPOINT + CMD parse.
    let docker = read("deploy/docker/Dockerfile");
    assert!(
        docker.lines().filter(|l| l.starts_with("FROM ")).count() >= 2,
        "multi-stage"
    );
    let user = docker
        .lines()
        .filter_map(|l| l.strip_prefix("USER "))
        .next_back()
        .expect("a USER line");
    assert!(
        !user.starts_with("root") && !user.starts_with('0'),
        "runs as {user}"
    );
    let entry = list(
        docker
            .lines()
            .find_map(|l| l.strip_prefix("ENTRYPOINT "))
            .unwrap(),
    );
    let cmd = list(docker.lines().find_map(|l| l.strip_prefix("CMD ")).unwrap());
    let full: Vec<String> = entry.iter().chain(&cmd).cloned().collect();
    assert!(matches!(
        parse(&full, "Dockerfile").command,
        Command::Serve { listen: Some(_) }
    ));

    // Kubernetes: the container args after the image's entrypoint.
    for (manifest, expect) in [
        ("deploy/k8s/deployment.yaml", "serve"),
        ("deploy/k8s/cronjob.yaml", "run"),
    ] {
        let text = read(manifest);
        let args = list(
            text.lines()
                .find_map(|l| l.trim().strip_prefix("args:"))
                .unwrap_or_else(|| panic!("{manifest}: no args")),
        );
        assert_eq!(args[0], expect, "{manifest}");
        let full: Vec<String> = entry.iter().chain(&args).cloned().collect();
        parse(&full, manifest);
        assert!(text.contains("runAsNonRoot: true"), "{manifest}");
    }
    let deployment = read("deploy/k8s/deployment.yaml");
    for probe in ["path: /healthz", "path: /readyz"] {
        assert!(deployment.contains(probe), "deployment lacks {probe}");
    }
}

/// The shipped project with its startwell.toml replaced.
fn compiles_with(toml: &str, from: &str) -> startwell::config::Project {
    let tp = TestProject::new();
    std::fs::write(tp.path().join("startwell.toml"), toml).unwrap();
    startwell::config::load_project(tp.path()).unwrap_or_else(|e| panic!("{from}: {e}"))
}

#[test]
fn deploy_configurations_compile() {
    let s3 = compiles_with(&read("deploy/examples/s3/startwell.toml"), "examples/s3");
    assert!(s3.storage_root.starts_with("s3://"));
    assert_eq!(s3.ops.schedules.len(), 1);
    assert!(s3.ops.arrival.enabled);

    // The ConfigMap's embedded startwell.toml (the block under `startwell.toml: |`).
    let cm = read("deploy/k8s/configmap.yaml");
    let block: String = cm
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("startwell.toml: |"))
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    let p = compiles_with(&block, "k8s/configmap.yaml");
    assert!(p.storage_root.starts_with("s3://"));
    assert_eq!(p.ops.listen.to_string(), "0.0.0.0:9187");
}
