//! Crash consistency of the real binary: `kill -9` in the middle of large imports and of
//! publishes, repeatedly, then `npsc db check` must find the database consistent (every edition
//! re-hashes to its recorded hash, no orphan rows) and the database must stay usable. Runs on
//! SQLite and, when `TEST_PG_URL` is set, on PostgreSQL.
//!
//! These tests spawn the `npsc` binary, which only this package can do (cargo gives
//! `CARGO_BIN_EXE_npsc` to the package that builds it).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NPSC: &str = env!("CARGO_BIN_EXE_npsc");

/// Rows in the large table: enough that an import takes seconds in a debug build.
const ROWS: usize = 20_000;

fn big_table(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.csv"));
    let mut text = String::from(
        "industry_code,product,raw_material,process,scale,pollutant,unit,generation_coefficient,treatment,removal_efficiency,emission_coefficient,source\n",
    );
    for i in 0..ROWS {
        text.push_str(&format!(
            "4430,产品{i},煤炭,层燃炉,所有规模,二氧化硫,千克/吨-原料,16S,直排,0,,synthetic crash-test row\n"
        ));
    }
    std::fs::write(&path, text).expect("write table");
    path
}

fn npsc(url: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new(NPSC)
        .args(args)
        .args(["--database", url])
        .output()
        .expect("npsc runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

fn assert_consistent(url: &str, context: &str) {
    let (ok, out) = npsc(url, &["db", "check"]);
    assert!(ok && out.starts_with("consistent"), "{context}: {out}");
}

/// Starts `args` and kills it with SIGKILL after `delay` if it is still running; returns whether
/// it was killed.
fn kill_after(url: &str, args: &[&str], delay: Duration) -> bool {
    let mut child = Command::new(NPSC)
        .args(args)
        .args(["--database", url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("npsc starts");
    let start = Instant::now();
    while start.elapsed() < delay {
        if child.try_wait().expect("wait").is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let killed = child.try_wait().expect("wait").is_none();
    // `Child::kill` sends SIGKILL on Unix: no destructor, no rollback by the process itself.
    let _ = child.kill();
    let _ = child.wait();
    killed
}

fn crash_scenario(url: &str, dir: &std::path::Path, set: &str) {
    let table = big_table(dir, set);
    let table = table.to_str().expect("utf-8");
    let (ok, out) = npsc(url, &["db", "migrate"]);
    assert!(ok, "{out}");
    // Time one uninterrupted import to spread the kills over its whole length.
    let started = Instant::now();
    let (ok, out) = npsc(url, &["coeff", "import", table]);
    assert!(ok, "{out}");
    let full = started.elapsed();
    let mut killed_imports = 0;
    for i in 0..12u32 {
        let delay = full.mul_f64(f64::from(i) / 12.0 + 0.02);
        if kill_after(url, &["coeff", "import", table], delay) {
            killed_imports += 1;
        }
        assert_consistent(url, &format!("after kill {i} during an import ({delay:?})"));
    }
    assert!(
        killed_imports >= 6,
        "only {killed_imports} kills landed during an import"
    );

    // Publishing is one conditional update: killed or not, the edition is whole.
    let mut published = false;
    for i in 0..10u64 {
        let killed = kill_after(
            url,
            &[
                "coeff",
                "publish",
                &format!("{set}@1"),
                "--note",
                "crash test",
            ],
            Duration::from_millis(20 * i),
        );
        assert_consistent(
            url,
            &format!("after kill {i} during a publish (killed: {killed})"),
        );
        let (_, out) = npsc(url, &["coeff", "resolve", &format!("{set}@1")]);
        assert!(out.contains("draft") || out.contains("published"), "{out}");
        published |= out.contains("published");
    }
    // Still usable: finish publishing if no attempt got through, then import a new draft.
    if !published {
        let (ok, out) = npsc(
            url,
            &[
                "coeff",
                "publish",
                &format!("{set}@1"),
                "--note",
                "after the crashes",
            ],
        );
        assert!(ok, "{out}");
    }
    let (ok, out) = npsc(url, &["coeff", "import", table]);
    assert!(ok && out.contains(&format!("{set}@2")), "{out}");
    assert_consistent(url, "at the end");
}

#[test]
fn kill_9_during_imports_and_publishes_leaves_sqlite_consistent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("npsc.db").display());
    crash_scenario(&url, dir.path(), "crash-sqlite");
}

#[test]
fn kill_9_during_imports_and_publishes_leaves_postgres_consistent() {
    let Ok(url) = std::env::var("TEST_PG_URL") else {
        eprintln!("skipped the PostgreSQL crash test: TEST_PG_URL is not set");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let set = format!("crash-pg-{}", std::process::id());
    crash_scenario(&url, dir.path(), &set);
}
