//! The `npsc` command line: exit codes, formats, help, code look-ups.

use crate::support::{SAMPLE_ARGS, npsc};

#[test]
fn every_command_has_help_with_examples() {
    for command in ["account", "validate", "codes", "coeff", "runs"] {
        let (status, out, _) = npsc(&[command, "--help"]);
        assert_eq!(status, 0, "{command}");
        assert!(out.contains("Examples:"), "{command}: {out}");
    }
    let (status, out, _) = npsc(&["--help"]);
    assert_eq!(status, 0);
    assert!(out.contains("account") && out.contains("validate") && out.contains("codes"));
}

#[test]
fn usage_errors_exit_with_status_1() {
    let (status, _, err) = npsc(&["account", "--coefficients"]);
    assert_eq!(status, 1);
    assert!(err.contains("error"), "{err}");
    let (status, _, err) = npsc(&["frobnicate"]);
    assert_eq!(status, 1, "{err}");
}

#[test]
fn missing_input_file_is_a_user_error_naming_the_file() {
    let (status, _, err) = npsc(&[
        "account",
        "--coefficients",
        "../coefficients/npsc1-excerpt",
        "--registry",
        "no/such/registry.csv",
        "--activity",
        "../datasets/sample-synthetic/activity.csv",
    ]);
    assert_eq!(status, 1);
    assert!(err.contains("no/such/registry.csv"), "{err}");
}

#[test]
fn csv_and_json_outputs_carry_provenance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("totals.csv");
    let mut args = SAMPLE_ARGS.to_vec();
    args.extend(["--format", "csv", "--out", out.to_str().expect("utf-8")]);
    let (status, stdout, stderr) = npsc(&args);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("65 of 67 activity rows accounted"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&out).expect("totals written");
    assert!(text.starts_with("year,region_level,region_code,"), "{text}");
    assert!(
        text.lines()
            .all(|l| l.contains("npsc1-excerpt") || l.starts_with("year"))
    );

    let mut args = SAMPLE_ARGS.to_vec();
    args.extend(["--format", "json", "--region-level", "national"]);
    let (status, stdout, _) = npsc(&args);
    assert_eq!(status, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
    assert_eq!(json["coefficient_set"]["id"], "npsc1-excerpt");
    assert_eq!(json["summary"]["rows_unaccounted"], 1);
    assert_eq!(json["unaccounted"][0]["row"], 42);
    assert_eq!(json["totals"].as_array().map(Vec::len), Some(18));
}

#[test]
fn deny_unaccounted_fails_without_writing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("totals.csv");
    let mut args = SAMPLE_ARGS.to_vec();
    args.extend(["--deny-unaccounted", "--out", out.to_str().expect("utf-8")]);
    let (status, _, err) = npsc(&args);
    assert_eq!(status, 1, "{err}");
    assert!(
        err.contains("row 42") && err.contains("no-coefficient-key"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn validate_accepts_the_bundled_files() {
    for (path, kind) in [
        ("../coefficients/npsc1-excerpt", "coefficient set"),
        (
            "../datasets/sample-synthetic/registry.csv",
            "enterprise registry",
        ),
        ("../datasets/sample-synthetic/activity.csv", "activity data"),
        ("fixtures/sample-activity-gbk.csv", "activity data"),
    ] {
        let (status, out, _) = npsc(&["validate", path]);
        assert_eq!(status, 0, "{path}: {out}");
        assert!(out.contains(&format!("valid: {path} ({kind})")), "{out}");
    }
}

#[test]
fn codes_look_up_regions_industries_and_usccs() {
    let (status, out, _) = npsc(&["codes", "region", "110105"]);
    assert_eq!(status, 0);
    assert!(out.contains("北京市 / 市辖区 / 朝阳区"), "{out}");
    let (status, out, _) = npsc(&["codes", "industry", "4430"]);
    assert_eq!(status, 0);
    assert!(
        out.contains("D4430") && out.contains("热力生产和供应"),
        "{out}"
    );
    let (status, out, _) = npsc(&["codes", "uscc", "91350100M000100Y43", "91512081MA62K0260E"]);
    assert_eq!(status, 0, "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("valid")).count(),
        2,
        "{out}"
    );
    let (status, out, _) = npsc(&["codes", "uscc", "91350100M000100Y4Z"]);
    assert_eq!(status, 1);
    assert!(out.contains("invalid") && out.contains("`3`"), "{out}");
    let (status, _, _) = npsc(&["codes", "region", "不存在的地方"]);
    assert_eq!(status, 1);
}
