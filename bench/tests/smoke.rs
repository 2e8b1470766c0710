//! The benchmark works: tiny sizes, checked only for sane, self-consistent output.

#![allow(clippy::unwrap_used, clippy::expect_used)]

fn run(args: &[&str]) -> serde_json::Value {
    let out = tempfile::NamedTempFile::new().unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_everynode-bench"))
        .arg("--out")
        .arg(out.path())
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "everynode-bench {args:?} failed");
    serde_json::from_str(&std::fs::read_to_string(out.path()).unwrap()).unwrap()
}

#[test]
fn limit_and_admission_scenarios_run_with_tiny_sizes() {
    let limit = run(&["limit", "--seconds", "0.3", "--depth", "4"]);
    assert!(
        limit["limit"]["kv_create_per_s"].as_f64().unwrap() > 0.0,
        "{limit}"
    );
    assert!(
        limit["limit"]["request_reply_per_s"].as_f64().unwrap() > 0.0,
        "{limit}"
    );

    let admission = run(&[
        "admission",
        "--rate",
        "40",
        "--seconds",
        "0.5",
        "--depth",
        "4",
    ]);
    assert_eq!(admission["at_rate"]["samples"], 20, "{admission}");
    assert!(
        admission["saturation_rate"].as_f64().unwrap() > 0.0,
        "{admission}"
    );
    assert_eq!(
        admission["machine"]["cores"].as_u64().unwrap() as usize,
        std::thread::available_parallelism().unwrap().get()
    );
}

#[test]
fn scale_scenarios_run_with_tiny_sizes() {
    let converge = run(&["converge", "--nodes", "20", "--limit-seconds", "0.3"]);
    assert_eq!(converge["live_pods"], 20, "{converge}");
    assert_eq!(converge["duplicates"], 0, "{converge}");
    assert!(
        converge["placements_per_s"].as_f64().unwrap() > 0.0,
        "{converge}"
    );
    assert!(
        converge["limit"]["kv_create_per_s"].as_f64().unwrap() > 0.0,
        "{converge}"
    );
    assert!(converge["pod_bytes"].as_u64().unwrap() > 0, "{converge}");
    let phases = converge["memory"].as_array().unwrap();
    assert!(phases.len() >= 4, "{converge}");
    assert!(
        phases.iter().all(|p| p["rss_kib"].as_u64().unwrap() > 0),
        "{converge}"
    );

    let join = run(&["join", "--nodes", "10", "--new", "5"]);
    assert_eq!(join["registered_to_running"]["samples"], 5, "{join}");
    assert_eq!(join["duplicates"], 0, "{join}");

    let relabel = run(&["relabel", "--nodes", "10", "--moved", "4"]);
    assert_eq!(relabel["update_to_pod_gone"]["samples"], 4, "{relabel}");
    assert_eq!(relabel["running_after"], 6, "{relabel}");

    let churn = run(&[
        "churn",
        "--nodes",
        "10",
        "--seconds",
        "1",
        "--rate",
        "5",
        "--failure-rate",
        "0.2",
        "--leave",
        "relabel",
        "--settle",
        "20s",
    ]);
    assert!(churn["leaves"].as_u64().unwrap() > 0, "{churn}");
    assert_eq!(churn["not_converged"], 0, "{churn}");
    assert_eq!(
        churn["convergence_lag"]["samples"], churn["leaves"],
        "{churn}"
    );
    assert_eq!(churn["duplicates_at_end"], 0, "{churn}");

    // Node delete + re-register: only checked for running through and for no duplicates (see
    // README: a re-registered node does not get its pod back while its agent still has it).
    let churn = run(&[
        "churn",
        "--nodes",
        "10",
        "--seconds",
        "1",
        "--rate",
        "2",
        "--leave",
        "delete",
        "--settle",
        "2s",
        "--not-ready-after",
        "1500ms",
    ]);
    assert_eq!(churn["duplicates_at_end"], 0, "{churn}");
}
