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
