//! Crash consistency of the real binary: `npsc` is killed with SIGKILL (`kill -9`: no destructor,
//! no rollback by the process itself) at seeded random points of each writing operation, on
//! SQLite and, when `TEST_PG_URL` is set, on PostgreSQL, and after every kill the database is
//! checked twice: by npsc's own check (`npsc db check`, in process through `app` after every
//! kill and as the binary every few kills), and independently by reading the tables here.
//!
//! Operations: `db migrate` on a new database, `coeff import` (a draft replaced by other
//! content), `coeff publish`, `reference import`, `reference publish` and `account --database`
//! (a stored run). After each kill:
//! - the database opens and `db check` finds it consistent;
//! - the applied migrations are a prefix of the embedded ones, none dirty, each with the SHA-384
//!   of its file, and exactly the tables those migrations create exist;
//! - every edition published before the kill is unchanged (metadata and a fingerprint of every
//!   row or of the content), and every edition has as many rows as it records;
//! - every stored run has as many results and totals as it records;
//! - the operation's object is either exactly as before, with no new audit entry, or exactly
//!   what an uninterrupted run of the operation writes, with exactly its audit entry; older
//!   audit entries are unchanged.
//!
//! The kill points come from a seeded generator (`NPSC_CRASH_SEED`, default below): half spread
//! over the whole process life (as an uninterrupted run measured it), half inside the write
//! transaction (the harness waits for SQLite's rollback journal or PostgreSQL's transaction id to
//! show, then a seeded part of the measured write phase). Each operation runs until `kills`
//! processes were killed while running; one that finishes first is checked too. Every failure
//! message names the seed, the operation, the attempt and its kill point. `kill_9_long_*`
//! (ignored) run 100 kills per operation on larger data:
//! `cargo test --release -p cli --test crash -- --ignored --nocapture`.
//!
//! These tests spawn the `npsc` binary, which only this package can do (cargo gives
//! `CARGO_BIN_EXE_npsc` to the package that builds it).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256, Sha384};
use sqlx::Row;
use sqlx::any::AnyPoolOptions;

const NPSC: &str = env!("CARGO_BIN_EXE_npsc");

/// The default seed; `NPSC_CRASH_SEED` overrides it.
const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// How big the data is and how often to kill.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    /// Rows of the coefficient tables imported (and replaced) by `coeff import`.
    import_rows: usize,
    /// Rows of each draft `coeff publish` publishes (every publish keeps an edition).
    publish_rows: usize,
    /// Rows of the key-unit lists imported by `reference import`.
    key_units: usize,
    /// Copies of the sample's 67 activity rows accounted by `account`.
    activity_copies: usize,
    /// Kills per operation and engine.
    kills: usize,
    /// `npsc db check` as a process after every this many kills (in process after each).
    binary_check_every: usize,
}

/// The test suite's: about a minute for both engines at once on a quiet 2-core machine.
const CI: Sizes = Sizes {
    import_rows: 400,
    publish_rows: 50,
    key_units: 2000,
    activity_copies: 15,
    kills: 20,
    binary_check_every: 5,
};

/// The long run, for the README's figures.
const LONG: Sizes = Sizes {
    import_rows: 20_000,
    publish_rows: 2_000,
    key_units: 50_000,
    activity_copies: 600,
    kills: 100,
    binary_check_every: 2,
};

// --- seeded kill points ----------------------------------------------------------------------

/// splitmix64: small, seedable, the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn seed() -> u64 {
    match std::env::var("NPSC_CRASH_SEED") {
        Ok(text) => {
            let text = text.trim();
            let parsed = match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => text.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("NPSC_CRASH_SEED `{text}` is not a number"))
        }
        Err(_) => SEED,
    }
}

// --- the operations --------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Migrate,
    CoeffImport,
    CoeffPublish,
    ReferenceImport,
    ReferencePublish,
    Account,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Migrate => "db migrate",
            Op::CoeffImport => "coeff import",
            Op::CoeffPublish => "coeff publish",
            Op::ReferenceImport => "reference import",
            Op::ReferencePublish => "reference publish",
            Op::Account => "account --database",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Op::Migrate => "migrate",
            Op::CoeffImport => "cimport",
            Op::CoeffPublish => "cpublish",
            Op::ReferenceImport => "rimport",
            Op::ReferencePublish => "rpublish",
            Op::Account => "account",
        }
    }
}

/// The coefficient set `coeff import` replaces the draft of, and the one `coeff publish`
/// publishes editions of.
const IMPORT_SET: &str = "crash-import";
const PUBLISH_SET: &str = "crash-publish";
/// The reference tables of `reference import` and `reference publish`.
const IMPORT_TABLE: &str = "crash-units";
const PUBLISH_TABLE: &str = "crash-published-units";
const NOTE: &str = "crash test";

/// The input files, made once per test.
struct Inputs {
    dir: tempfile::TempDir,
    /// Two coefficient tables of `import_rows` rows with other values (so other hashes).
    import: [PathBuf; 2],
    /// Two small coefficient tables for the drafts `coeff publish` publishes.
    publish: [PathBuf; 2],
    /// Two key-unit lists, the second one row shorter.
    key_units: [PathBuf; 2],
    registry: PathBuf,
    activity: PathBuf,
    activity_rows: u64,
    sizes: Sizes,
}

/// A coefficient table of `rows` rows; `variant` changes every value.
fn coefficient_table(path: &Path, set: &str, rows: usize, variant: usize) {
    let mut text = String::from(
        "industry_code,product,raw_material,process,scale,pollutant,unit,generation_coefficient,treatment,removal_efficiency,emission_coefficient,source\n",
    );
    for i in 0..rows {
        let _ = writeln!(
            text,
            "4430,产品{i},煤炭,层燃炉,所有规模,二氧化硫,千克/吨-原料,{}S,直排,0,,synthetic crash-test row",
            16 + variant
        );
    }
    let folder = path.with_extension("");
    std::fs::create_dir_all(&folder).expect("folder");
    std::fs::write(folder.join("coefficients.csv"), text).expect("write table");
    std::fs::write(
        folder.join("manifest.toml"),
        format!(
            "id = \"{set}\"\nedition = 1\ntitle = \"crash test {variant}\"\neffective_from = \"2024-01-01\"\n\
             synthetic = true\nprovenance = \"SYNTHETIC rows made by cli/tests/crash.rs\"\n\
             tables = [\"coefficients.csv\"]\n"
        ),
    )
    .expect("write manifest");
}

/// A valid USCC: `91`, the county, an organization code made from `index`, both check
/// characters.
fn uscc(county: u32, index: usize) -> String {
    let org = format!("{:08}", index * 7 + 10_000_000);
    let org_check = accounting::codes::Uscc::org_check_char(&org).expect("org code");
    let first17 = format!("91{county:06}{org}{org_check}");
    let check = accounting::codes::Uscc::check_char(&first17).expect("check character");
    format!("{first17}{check}")
}

fn key_unit_list(path: &Path, rows: usize) {
    let mut text = String::from("uscc,name,area_code,level,reasons,base_year,note\n");
    for i in 0..rows {
        let _ = writeln!(
            text,
            "{},单位{i}（样例）,110101,county,top share,2023,",
            uscc(110101, i)
        );
    }
    std::fs::write(path, text).expect("write key units");
}

fn inputs(sizes: Sizes) -> Inputs {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| dir.path().join(name);
    let import = [path("import-a.set"), path("import-b.set")];
    let publish = [path("publish-a.set"), path("publish-b.set")];
    for (i, p) in import.iter().enumerate() {
        coefficient_table(p, IMPORT_SET, sizes.import_rows, i);
    }
    for (i, p) in publish.iter().enumerate() {
        coefficient_table(p, PUBLISH_SET, sizes.publish_rows, i);
    }
    let key_units = [path("units-a.csv"), path("units-b.csv")];
    key_unit_list(&key_units[0], sizes.key_units);
    key_unit_list(&key_units[1], sizes.key_units - 1);
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/sample-synthetic");
    let text = std::fs::read_to_string(sample.join("activity.csv")).expect("sample activity");
    let (header, body) = text.split_once('\n').expect("header");
    let mut activity = format!("{header}\n");
    for _ in 0..sizes.activity_copies {
        activity.push_str(body);
        if !body.ends_with('\n') {
            activity.push('\n');
        }
    }
    let activity_rows = activity.lines().count() as u64 - 1;
    std::fs::write(path("activity.csv"), activity).expect("write activity");
    Inputs {
        import: import.map(|p| p.with_extension("")),
        publish: publish.map(|p| p.with_extension("")),
        key_units,
        registry: sample.join("registry.csv"),
        activity: path("activity.csv"),
        activity_rows,
        sizes,
        dir,
    }
}

impl Inputs {
    /// Rows of the first variant of an import's input.
    fn rows(&self, op: Op) -> usize {
        match op {
            Op::CoeffImport => self.sizes.import_rows,
            Op::ReferenceImport => self.sizes.key_units,
            _ => 0,
        }
    }

    /// The command line of `op`; `variant` picks the input where there are two.
    fn args(&self, op: Op, variant: usize) -> Vec<String> {
        let s = |p: &Path| p.to_str().expect("utf-8").to_string();
        let strings = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        match op {
            Op::Migrate => strings(&["db", "migrate"]),
            Op::CoeffImport => {
                let mut a = strings(&["coeff", "import"]);
                a.push(s(&self.import[variant % 2]));
                a
            }
            Op::CoeffPublish => strings(&["coeff", "publish", PUBLISH_SET, "--note", NOTE]),
            Op::ReferenceImport => {
                let mut a = strings(&["reference", "import", "key-units"]);
                a.push(s(&self.key_units[variant % 2]));
                a.extend(strings(&["--name", IMPORT_TABLE]));
                a
            }
            Op::ReferencePublish => {
                strings(&["reference", "publish", PUBLISH_TABLE, "--note", NOTE])
            }
            Op::Account => {
                let mut a = strings(&["account", "--coefficients", "npsc1-excerpt@1"]);
                a.extend(["--registry".into(), s(&self.registry)]);
                a.extend(["--activity".into(), s(&self.activity)]);
                a.extend(strings(&["--region-level", "county", "--format", "csv"]));
                a
            }
        }
    }
}

// --- databases -------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "SQLite",
            Engine::Postgres => "PostgreSQL",
        }
    }

    fn dialect(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// One database under test: a SQLite file, or a PostgreSQL database made for the test.
struct Db {
    engine: Engine,
    url: String,
    /// SQLite: the file.
    file: Option<PathBuf>,
    /// PostgreSQL: a pool on the server (for the activity probe and DROP DATABASE) and the
    /// database's name.
    server: Option<(sqlx::AnyPool, String)>,
    /// The harness's own connection to the database, opened on first use.
    conn: std::cell::RefCell<Option<sqlx::AnyPool>>,
    rt: tokio::runtime::Runtime,
}

async fn pool(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot open {url}: {e}"))
}

impl Db {
    /// A new, empty database; `None` for PostgreSQL when `TEST_PG_URL` is not set.
    fn create(engine: Engine, dir: &Path, name: &str) -> Option<Db> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        match engine {
            Engine::Sqlite => {
                let file = dir.join(format!("{name}.db"));
                let _ = std::fs::remove_file(&file);
                Some(Db {
                    engine,
                    url: format!("sqlite://{}", file.display()),
                    file: Some(file),
                    server: None,
                    conn: Default::default(),
                    rt,
                })
            }
            Engine::Postgres => {
                let server = std::env::var("TEST_PG_URL").ok()?;
                let name = format!("npsc_crash_{name}_{}", std::process::id());
                let admin = rt.block_on(async {
                    let admin = pool(&server).await;
                    for sql in [
                        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                        format!("CREATE DATABASE {name}"),
                    ] {
                        sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                            .execute(&admin)
                            .await
                            .unwrap_or_else(|e| panic!("{sql}: {e}"));
                    }
                    admin
                });
                let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(&server);
                Some(Db {
                    engine,
                    url: format!("{base}/{name}"),
                    file: None,
                    server: Some((admin, name)),
                    conn: Default::default(),
                    rt,
                })
            }
        }
    }

    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.rt.block_on(future)
    }

    /// The harness's connection.
    fn pool(&self) -> sqlx::AnyPool {
        let mut conn = self.conn.borrow_mut();
        conn.get_or_insert_with(|| self.rt.block_on(pool(&self.url)))
            .clone()
    }

    /// Whether a write transaction is open right now (PostgreSQL: a backend of this database
    /// holds a transaction id) or was left open by a killed process (SQLite: a hot rollback
    /// journal).
    fn write_in_progress(&self) -> bool {
        match (&self.file, &self.server) {
            (Some(file), _) => {
                let journal = PathBuf::from(format!("{}-journal", file.display()));
                std::fs::metadata(journal).is_ok_and(|m| m.len() > 0)
            }
            (None, Some((admin, name))) => self.block_on(async {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1 \
                     AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()",
                )
                .bind(name)
                .fetch_one(admin)
                .await
                .expect("pg_stat_activity");
                n > 0
            }),
            (None, None) => false,
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.borrow_mut().take() {
            self.rt.block_on(conn.close());
        }
        if let Some((admin, name)) = &self.server {
            self.rt.block_on(async {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(admin)
                .await;
                admin.close().await;
            });
        }
    }
}

// --- running and killing npsc ----------------------------------------------------------------

fn npsc(db: &Db, args: &[String]) -> (bool, String) {
    let output = Command::new(NPSC)
        .args(args)
        .args(["--database", &db.url])
        .env("NPSC_ACTOR", "crash-test")
        .output()
        .expect("npsc runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

fn npsc_ok(db: &Db, args: &[String], context: &str) -> String {
    let (ok, out) = npsc(db, args);
    assert!(ok, "{context}: npsc {} failed: {out}", args.join(" "));
    out
}

/// What happened to a process the harness meant to kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// It exited (successfully) before the kill.
    Finished,
    /// Killed while running. `write_seen`: its write transaction had shown before the kill;
    /// `hot_journal`: SQLite found a rollback journal left behind (a kill inside the write).
    Killed { write_seen: bool, hot_journal: bool },
}

/// When to kill.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// This long after the start.
    After(Duration),
    /// This long after the write transaction shows (polled: SQLite's rollback journal,
    /// PostgreSQL's transaction id); if it never shows, after `fallback`.
    InWrite {
        offset: Duration,
        fallback: Duration,
    },
}

/// A process's life as an uninterrupted run showed it.
#[derive(Debug, Clone, Copy)]
struct Timing {
    /// Start to exit.
    full: Duration,
    /// When the write transaction was first and last seen.
    write: Option<(Duration, Duration)>,
}

fn spawn(db: &Db, args: &[String], stderr: Stdio) -> std::process::Child {
    Command::new(NPSC)
        .args(args)
        .args(["--database", &db.url])
        .env("NPSC_ACTOR", "crash-test")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("npsc starts")
}

/// How often the write probe runs while waiting for a fixed delay (PostgreSQL's probe is a
/// query: not too often, not to slow npsc down).
const PROBE_EVERY: Duration = Duration::from_millis(2);

/// Runs npsc with `args` and sends SIGKILL at `at` if it still runs.
fn kill_after(db: &Db, args: &[String], at: KillAt, context: &str) -> Fate {
    let stderr = tempfile::NamedTempFile::new().expect("stderr file");
    let mut child = spawn(db, args, stderr.reopen().expect("stderr").into());
    let start = Instant::now();
    let mut deadline = match at {
        KillAt::After(delay) => Some(start + delay),
        KillAt::InWrite { .. } => None,
    };
    let mut write_seen = false;
    let mut probed = start;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let text = std::fs::read_to_string(stderr.path()).unwrap_or_default();
            assert!(
                status.success(),
                "{context}: npsc {} failed before the kill: {text}",
                args.join(" ")
            );
            return Fate::Finished;
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break;
        }
        let probe = match at {
            KillAt::InWrite { .. } => deadline.is_none(),
            KillAt::After(_) => !write_seen && now - probed >= PROBE_EVERY,
        };
        if probe {
            probed = now;
            if db.write_in_progress() {
                write_seen = true;
                if let KillAt::InWrite { offset, .. } = at {
                    deadline = Some(Instant::now() + offset);
                }
            } else if let KillAt::InWrite { fallback, .. } = at
                && now - start >= fallback
            {
                break;
            }
        }
        // Waiting for the SQLite journal or a deadline: a short sleep; PostgreSQL's probe is a
        // query, which paces itself.
        if db.engine == Engine::Sqlite || !probe {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    // `Child::kill` sends SIGKILL on Unix.
    let _ = child.kill();
    let status = child.wait().expect("wait");
    if status.success() {
        // It exited between the last poll and the kill.
        return Fate::Finished;
    }
    Fate::Killed {
        write_seen,
        hot_journal: db.engine == Engine::Sqlite && db.write_in_progress(),
    }
}

/// Runs `args` once, uninterrupted, and measures how long it takes and when its write
/// transaction shows (if the probe sees it).
fn time_it(db: &Db, args: &[String], context: &str) -> Timing {
    let mut child = spawn(db, args, Stdio::null());
    let start = Instant::now();
    let mut write: Option<(Duration, Duration)> = None;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(
                status.success(),
                "{context}: npsc {} failed",
                args.join(" ")
            );
            return Timing {
                full: start.elapsed(),
                write,
            };
        }
        if db.write_in_progress() {
            let t = start.elapsed();
            write = Some((write.map_or(t, |(first, _)| first), t));
        }
        if db.engine == Engine::Sqlite {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

// --- what is in the database, read independently of npsc ------------------------------------

#[derive(Debug, Clone, PartialEq)]
struct Edition {
    status: String,
    content_hash: String,
    row_count: i64,
    published_at: Option<String>,
    revision_note: Option<String>,
    retired_at: Option<String>,
    /// Rows actually stored.
    rows: i64,
    /// SHA-256 over every stored row, in order.
    fingerprint: String,
}

#[derive(Debug, Clone, PartialEq)]
struct ReferenceEdition {
    kind: String,
    status: String,
    content_hash: String,
    row_count: i64,
    published_at: Option<String>,
    revision_note: Option<String>,
    /// SHA-256 of the stored content, computed here.
    actual_hash: String,
}

#[derive(Debug, Clone)]
struct StoredRun {
    content_hash: String,
    rows_read: i64,
    rows_accounted: i64,
    result_count: Option<i64>,
    total_count: Option<i64>,
    results: i64,
    totals: i64,
    emitted: f64,
    total_emitted: f64,
}

/// Counts exactly, sums to 1e-9 relative: PostgreSQL may add a run's results up in another
/// order from one query to the next (a parallel aggregate).
impl PartialEq for StoredRun {
    fn eq(&self, other: &StoredRun) -> bool {
        let key = |r: &StoredRun| {
            (
                r.content_hash.clone(),
                r.rows_read,
                r.rows_accounted,
                r.result_count,
                r.total_count,
                r.results,
                r.totals,
            )
        };
        key(self) == key(other)
            && close(self.emitted, other.emitted)
            && close(self.total_emitted, other.total_emitted)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct AuditEntry {
    id: i64,
    action: String,
    object: String,
    before_hash: Option<String>,
    after_hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Snapshot {
    /// Applied migrations: version, success, checksum.
    migrations: Vec<(i64, bool, Vec<u8>)>,
    tables: BTreeSet<String>,
    editions: BTreeMap<String, Edition>,
    references: BTreeMap<String, ReferenceEdition>,
    runs: BTreeMap<i64, StoredRun>,
    audit: Vec<AuditEntry>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn snapshot(db: &Db) -> Snapshot {
    if db.file.as_ref().is_some_and(|f| !f.exists()) {
        // Killed before npsc created the file.
        return Snapshot::default();
    }
    let pool = db.pool();
    db.block_on(async {
        let tables: Vec<String> = sqlx::query_scalar(match db.engine {
            Engine::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'sqlite_sequence'"
            }
            Engine::Postgres => {
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
                 WHERE table_schema = 'public'"
            }
        })
        .fetch_all(&pool)
        .await
        .expect("tables");
        let mut s = Snapshot {
            tables: tables.into_iter().collect(),
            ..Snapshot::default()
        };
        if s.tables.contains("_sqlx_migrations") {
            for r in sqlx::query(
                "SELECT version, CASE WHEN success THEN 1 ELSE 0 END AS ok, checksum \
                 FROM _sqlx_migrations ORDER BY version",
            )
            .fetch_all(&pool)
            .await
            .expect("migrations")
            {
                let ok: i32 = match db.engine {
                    Engine::Sqlite => r.try_get::<i64, _>("ok").expect("ok") as i32,
                    Engine::Postgres => r.try_get("ok").expect("ok"),
                };
                s.migrations.push((
                    r.try_get("version").expect("version"),
                    ok == 1,
                    r.try_get("checksum").expect("checksum"),
                ));
            }
        }
        if s.tables.contains("edition") {
            let mut rows: BTreeMap<String, (i64, Sha256)> = BTreeMap::new();
            for r in sqlx::query(
                "SELECT set_id, edition, ordinal, source_table, source_row, industry_code, \
                 section, product, raw_material, process, scale, pollutant, unit, \
                 generation_coefficient, treatment, removal_kind, removal_efficiency, \
                 emission_coefficient, note FROM coefficient_row \
                 ORDER BY set_id, edition, ordinal",
            )
            .fetch_all(&pool)
            .await
            .expect("coefficient rows")
            {
                let key = format!(
                    "{}@{}",
                    r.get::<String, _>("set_id"),
                    r.get::<i64, _>("edition")
                );
                let text = format!(
                    "{}|{}|{}|{}|{:?}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{:?}|{:?}|{:?}\n",
                    r.get::<i64, _>("ordinal"),
                    r.get::<String, _>("source_table"),
                    r.get::<i64, _>("source_row"),
                    r.get::<String, _>("industry_code"),
                    r.get::<Option<String>, _>("section"),
                    r.get::<String, _>("product"),
                    r.get::<String, _>("raw_material"),
                    r.get::<String, _>("process"),
                    r.get::<String, _>("scale"),
                    r.get::<String, _>("pollutant"),
                    r.get::<String, _>("unit"),
                    r.get::<String, _>("generation_coefficient"),
                    r.get::<String, _>("treatment"),
                    r.get::<String, _>("removal_kind"),
                    r.get::<Option<f64>, _>("removal_efficiency")
                        .map(f64::to_bits),
                    r.get::<Option<String>, _>("emission_coefficient"),
                    r.get::<Option<String>, _>("note"),
                );
                let entry = rows.entry(key).or_insert_with(|| (0, Sha256::new()));
                entry.0 += 1;
                entry.1.update(text.as_bytes());
            }
            for r in sqlx::query(
                "SELECT set_id, edition, status, content_hash, row_count, published_at, \
                 revision_note, retired_at FROM edition",
            )
            .fetch_all(&pool)
            .await
            .expect("editions")
            {
                let key = format!(
                    "{}@{}",
                    r.get::<String, _>("set_id"),
                    r.get::<i64, _>("edition")
                );
                let (count, hash) = rows.remove(&key).unwrap_or((0, Sha256::new()));
                s.editions.insert(
                    key,
                    Edition {
                        status: r.get("status"),
                        content_hash: r.get("content_hash"),
                        row_count: r.get("row_count"),
                        published_at: r.get("published_at"),
                        revision_note: r.get("revision_note"),
                        retired_at: r.get("retired_at"),
                        rows: count,
                        fingerprint: hex(&hash.finalize()),
                    },
                );
            }
            assert!(
                rows.is_empty(),
                "coefficient rows of no edition: {:?}",
                rows.keys().collect::<Vec<_>>()
            );
        }
        if s.tables.contains("reference_edition") {
            for r in sqlx::query(
                "SELECT name, edition, kind, status, content_hash, content, row_count, \
                 published_at, revision_note FROM reference_edition",
            )
            .fetch_all(&pool)
            .await
            .expect("reference editions")
            {
                let content: String = r.get("content");
                s.references.insert(
                    format!(
                        "{}@{}",
                        r.get::<String, _>("name"),
                        r.get::<i64, _>("edition")
                    ),
                    ReferenceEdition {
                        kind: r.get("kind"),
                        status: r.get("status"),
                        content_hash: r.get("content_hash"),
                        row_count: r.get("row_count"),
                        published_at: r.get("published_at"),
                        revision_note: r.get("revision_note"),
                        actual_hash: hex(&Sha256::digest(content.as_bytes())),
                    },
                );
            }
        }
        if s.tables.contains("run") {
            let counted = s.migrations.iter().any(|(v, ..)| *v == 8);
            let mut runs: Vec<(i64, StoredRun)> = Vec::new();
            for r in sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id, content_hash, rows_read, rows_accounted, {} FROM run ORDER BY id",
                if counted {
                    "result_count, total_count"
                } else {
                    "NULL AS result_count, NULL AS total_count"
                }
            )))
            .fetch_all(&pool)
            .await
            .expect("runs")
            {
                runs.push((
                    r.get("id"),
                    StoredRun {
                        content_hash: r.get("content_hash"),
                        rows_read: r.get("rows_read"),
                        rows_accounted: r.get("rows_accounted"),
                        result_count: r.get("result_count"),
                        total_count: r.get("total_count"),
                        results: 0,
                        totals: 0,
                        emitted: 0.0,
                        total_emitted: 0.0,
                    },
                ));
            }
            let mut runs: BTreeMap<i64, StoredRun> = runs.into_iter().collect();
            for (table, results) in [("run_result", true), ("run_total", false)] {
                for r in sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT run_id, COUNT(*) AS n, SUM(emitted) AS e FROM {table} GROUP BY run_id"
                )))
                .fetch_all(&pool)
                .await
                .expect("results")
                {
                    let id: i64 = r.get("run_id");
                    let run = runs
                        .get_mut(&id)
                        .unwrap_or_else(|| panic!("{table} rows of run {id}, which is not stored"));
                    let (n, e): (i64, f64) = (r.get("n"), r.get("e"));
                    if results {
                        (run.results, run.emitted) = (n, e);
                    } else {
                        (run.totals, run.total_emitted) = (n, e);
                    }
                }
            }
            s.runs = runs;
        }
        if s.tables.contains("audit_log") {
            s.audit = sqlx::query(
                "SELECT id, action, object, before_hash, after_hash FROM audit_log ORDER BY id",
            )
            .fetch_all(&pool)
            .await
            .expect("audit log")
            .iter()
            .map(|r| AuditEntry {
                id: r.get("id"),
                action: r.get("action"),
                object: r.get("object"),
                before_hash: r.get("before_hash"),
                after_hash: r.get("after_hash"),
            })
            .collect();
        }
        s
    })
}

/// The embedded migrations, read from their files: version, checksum (SHA-384 of the SQL, as
/// sqlx records it) and the tables each creates.
fn migration_files(engine: Engine) -> Vec<(i64, Vec<u8>, Vec<String>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/store/migrations")
        .join(engine.dialect());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("migrations folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).expect("name");
            let version: i64 = name
                .split('_')
                .next()
                .and_then(|v| v.parse().ok())
                .expect("version");
            let sql = std::fs::read_to_string(p).expect("migration");
            let tables = sql
                .lines()
                .filter_map(|l| l.trim().strip_prefix("CREATE TABLE "))
                .map(|rest| {
                    rest.split(|c: char| c.is_whitespace() || c == '(')
                        .next()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect();
            (version, Sha384::digest(sql.as_bytes()).to_vec(), tables)
        })
        .collect()
}

// --- the checks --------------------------------------------------------------------------------

/// What a complete operation writes, learnt from an uninterrupted run.
#[derive(Debug, Default)]
struct Expected {
    /// Coefficient imports: per variant, the content hash and fingerprint.
    coefficient: BTreeMap<usize, (String, String)>,
    /// Reference imports: per variant, the content hash.
    reference: BTreeMap<usize, String>,
    /// A complete stored run.
    run: Option<StoredRun>,
    /// The hash of the edition runs use.
    base_hash: String,
}

/// Checks what must hold whatever the operation: migrations, untouched published editions and
/// runs, complete editions and runs, an unchanged audit history. Returns the new audit entries.
fn invariants<'a>(
    engine: Engine,
    before: &Snapshot,
    after: &'a Snapshot,
    full_schema: bool,
) -> Result<&'a [AuditEntry], String> {
    let files = migration_files(engine);
    if after.migrations.len() > files.len() {
        return Err(format!(
            "{} migrations applied, {} known",
            after.migrations.len(),
            files.len()
        ));
    }
    for ((version, ok, checksum), (file_version, file_checksum, _)) in
        after.migrations.iter().zip(&files)
    {
        if !ok || version != file_version || checksum != file_checksum {
            return Err(format!(
                "migration {version} is {} (expected {file_version}, checksum {})",
                if *ok { "applied" } else { "dirty" },
                if checksum == file_checksum {
                    "equal"
                } else {
                    "different"
                }
            ));
        }
    }
    if full_schema && after.migrations.len() != files.len() {
        return Err(format!(
            "{} of {} migrations applied",
            after.migrations.len(),
            files.len()
        ));
    }
    let mut tables: BTreeSet<String> = files[..after.migrations.len()]
        .iter()
        .flat_map(|(_, _, t)| t.iter().cloned())
        .collect();
    if !after.tables.is_empty() || !after.migrations.is_empty() {
        tables.insert("_sqlx_migrations".to_string());
    }
    if after.tables != tables {
        return Err(format!(
            "tables {:?} after migrations 1..={}, expected {tables:?}",
            after.tables,
            after.migrations.len()
        ));
    }
    if after.migrations.len() < before.migrations.len() {
        return Err("applied migrations disappeared".to_string());
    }
    for (name, e) in &before.editions {
        if e.status != "draft" && after.editions.get(name) != Some(e) {
            return Err(format!(
                "the published edition {name} changed: {e:?} → {:?}",
                after.editions.get(name)
            ));
        }
    }
    for (name, e) in &after.editions {
        if e.rows != e.row_count {
            return Err(format!(
                "{name} records {} rows but has {}",
                e.row_count, e.rows
            ));
        }
    }
    for (name, r) in &before.references {
        if r.status != "draft" && after.references.get(name) != Some(r) {
            return Err(format!(
                "the published reference table {name} changed: {r:?} → {:?}",
                after.references.get(name)
            ));
        }
    }
    for (name, r) in &after.references {
        if r.actual_hash != r.content_hash {
            return Err(format!(
                "{name}: content hashes to {}, {} recorded",
                r.actual_hash, r.content_hash
            ));
        }
    }
    for (id, run) in &before.runs {
        if after.runs.get(id) != Some(run) {
            return Err(format!(
                "run {id} changed: {run:?} → {:?}",
                after.runs.get(id)
            ));
        }
    }
    for (id, run) in &after.runs {
        if run.result_count != Some(run.results) || run.total_count != Some(run.totals) {
            return Err(format!("run {id} is partial: {run:?}"));
        }
    }
    if after.audit.len() < before.audit.len() || after.audit[..before.audit.len()] != before.audit {
        return Err("audit entries written before the kill changed".to_string());
    }
    Ok(&after.audit[before.audit.len()..])
}

/// The drafts of a coefficient set or reference table (`name@N` keys).
fn draft_of<'m, T>(
    editions: &'m BTreeMap<String, T>,
    prefix: &str,
    status: impl Fn(&T) -> &str,
) -> Option<(&'m String, &'m T)> {
    editions
        .iter()
        .find(|(name, e)| name.starts_with(&format!("{prefix}@")) && status(e) == "draft")
}

/// Every edition but those of `prefix` (`None`: all) is as it was.
fn others_unchanged(
    before: &Snapshot,
    after: &Snapshot,
    prefix: Option<&str>,
) -> Result<(), String> {
    let keep = |name: &String| prefix.is_none_or(|p| !name.starts_with(&format!("{p}@")));
    let coefficient = |s: &Snapshot| -> BTreeMap<String, Edition> {
        s.editions
            .iter()
            .filter(|(k, _)| keep(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let reference = |s: &Snapshot| -> BTreeMap<String, ReferenceEdition> {
        s.references
            .iter()
            .filter(|(k, _)| keep(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    if coefficient(before) != coefficient(after) || reference(before) != reference(after) {
        return Err(format!(
            "an edition other than {}@… changed",
            prefix.unwrap_or("none")
        ));
    }
    if prefix.is_some() && before.runs != after.runs {
        return Err("a run was stored or changed".to_string());
    }
    Ok(())
}

/// The one audit entry a complete operation writes, or none.
fn audit_entries(
    new: &[AuditEntry],
    done: bool,
    action: &str,
    object: &str,
    before_hash: Option<&str>,
    after_hash: Option<&str>,
) -> Result<(), String> {
    let right = match new {
        [] => !done,
        [e] => {
            done && e.action == action
                && e.object == object
                && e.before_hash.as_deref() == before_hash
                && e.after_hash.as_deref() == after_hash
        }
        _ => false,
    };
    if right {
        Ok(())
    } else {
        Err(format!(
            "the operation {}, but the new audit entries are {new:?} (expected {})",
            if done {
                "took effect"
            } else {
                "left its object as it was"
            },
            if done {
                format!("{action} {object} {before_hash:?} → {after_hash:?}")
            } else {
                "none".to_string()
            }
        ))
    }
}

/// The operation's own object is either exactly as before, with no new audit entry, or exactly
/// what a complete run writes, with exactly its audit entry. Returns whether it took effect.
fn outcome(
    op: Op,
    variant: usize,
    expected: &Expected,
    before: &Snapshot,
    after: &Snapshot,
    new: &[AuditEntry],
) -> Result<bool, String> {
    match op {
        Op::Migrate => {
            if !new.is_empty() {
                return Err(format!("migrating wrote audit entries: {new:?}"));
            }
            Ok(after.migrations.len() > before.migrations.len())
        }
        Op::CoeffImport => {
            others_unchanged(before, after, Some(IMPORT_SET))?;
            let old = draft_of(&before.editions, IMPORT_SET, |e| e.status.as_str());
            let Some((name, now)) = draft_of(&after.editions, IMPORT_SET, |e| e.status.as_str())
            else {
                return Err(format!("{IMPORT_SET} has no draft after the import"));
            };
            let (hash, fingerprint) = &expected.coefficient[&variant];
            // The variant always differs from the draft before: a change is visible.
            let done = if old == Some((name, now)) {
                false
            } else if now.content_hash == *hash && now.fingerprint == *fingerprint {
                true
            } else {
                return Err(format!(
                    "the draft {name} is neither the old one ({old:?}) nor the imported table: {now:?}"
                ));
            };
            if after.editions.len() != before.editions.len() + usize::from(done && old.is_none()) {
                return Err("the import added an edition besides its draft".to_string());
            }
            audit_entries(
                new,
                done,
                "import",
                name,
                old.map(|(_, e)| e.content_hash.as_str()),
                Some(hash),
            )?;
            Ok(done)
        }
        Op::ReferenceImport => {
            others_unchanged(before, after, Some(IMPORT_TABLE))?;
            let old = draft_of(&before.references, IMPORT_TABLE, |e| e.status.as_str());
            let Some((name, now)) =
                draft_of(&after.references, IMPORT_TABLE, |e| e.status.as_str())
            else {
                return Err(format!("{IMPORT_TABLE} has no draft after the import"));
            };
            let hash = &expected.reference[&variant];
            let done = if old == Some((name, now)) {
                false
            } else if now.content_hash == *hash && now.kind == "key-units" {
                true
            } else {
                return Err(format!(
                    "the draft {name} is neither the old one ({old:?}) nor the imported table: {now:?}"
                ));
            };
            audit_entries(
                new,
                done,
                "import",
                name,
                old.map(|(_, e)| e.content_hash.as_str()),
                Some(hash),
            )?;
            Ok(done)
        }
        Op::CoeffPublish => {
            others_unchanged(before, after, Some(PUBLISH_SET))?;
            let (name, old) = draft_of(&before.editions, PUBLISH_SET, |e| e.status.as_str())
                .expect("a draft to publish");
            let now = &after.editions[name];
            let published = Edition {
                status: "published".into(),
                published_at: now.published_at.clone(),
                revision_note: Some(NOTE.into()),
                ..old.clone()
            };
            let done = draft_or_published(name, old, now, &published, now.published_at.is_some())?;
            if after.editions.len() != before.editions.len() {
                return Err("publishing added an edition".to_string());
            }
            let hash = Some(old.content_hash.as_str());
            audit_entries(new, done, "publish", name, hash, hash)?;
            Ok(done)
        }
        Op::ReferencePublish => {
            others_unchanged(before, after, Some(PUBLISH_TABLE))?;
            let (name, old) = draft_of(&before.references, PUBLISH_TABLE, |e| e.status.as_str())
                .expect("a draft to publish");
            let now = &after.references[name];
            let published = ReferenceEdition {
                status: "published".into(),
                published_at: now.published_at.clone(),
                revision_note: Some(NOTE.into()),
                ..old.clone()
            };
            let done = draft_or_published(name, old, now, &published, now.published_at.is_some())?;
            let hash = Some(old.content_hash.as_str());
            audit_entries(new, done, "publish", name, hash, hash)?;
            Ok(done)
        }
        Op::Account => {
            others_unchanged(before, after, None)?;
            let added: Vec<_> = after
                .runs
                .iter()
                .filter(|(id, _)| !before.runs.contains_key(id))
                .collect();
            match added.as_slice() {
                [] => {
                    audit_entries(new, false, "run", "", None, None)?;
                    Ok(false)
                }
                [(id, run)] => {
                    let want = expected.run.as_ref().expect("a complete run");
                    if **run != *want {
                        return Err(format!(
                            "run {id} differs from a complete run: {run:?}, expected {want:?}"
                        ));
                    }
                    let object = format!("run {id}");
                    audit_entries(new, true, "run", &object, None, Some(&expected.base_hash))?;
                    Ok(true)
                }
                more => Err(format!("{} runs stored by one command", more.len())),
            }
        }
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

// --- one operation, killed again and again ---------------------------------------------------

/// What the kills of one operation on one engine came to.
#[derive(Debug, Default)]
struct Tally {
    /// Processes started to be killed.
    kills: usize,
    /// Killed while running.
    killed: usize,
    /// Of those, with a write transaction open.
    mid_write: usize,
    /// Of those, after the write had committed (the change is there).
    committed_then_killed: usize,
    /// The process had exited before the kill.
    finished: usize,
    binary_checks: usize,
    elapsed: Duration,
    /// Time spent in the killed processes, in npsc's check, in reading the database here.
    phases: [Duration; 3],
}

/// Puts in place what `op` needs before a kill (a draft to publish) and picks the input variant
/// (for imports, the content the draft does not have, so that a change is visible). `s` is the
/// database's current state; returns the variant and the state after the preparation.
fn prepare(
    op: Op,
    db: &Db,
    inputs: &Inputs,
    expected: &Expected,
    round: usize,
    context: &str,
    s: Snapshot,
) -> (usize, Snapshot) {
    let variant = match op {
        Op::CoeffPublish => {
            if draft_of(&s.editions, PUBLISH_SET, |e| e.status.as_str()).is_none() {
                let args = vec![
                    "coeff".to_string(),
                    "import".into(),
                    inputs.publish[round % 2].display().to_string(),
                ];
                npsc_ok(db, &args, context);
                return (0, snapshot(db));
            }
            0
        }
        Op::ReferencePublish => {
            if draft_of(&s.references, PUBLISH_TABLE, |e| e.status.as_str()).is_none() {
                let args = vec![
                    "reference".to_string(),
                    "import".into(),
                    "key-units".into(),
                    inputs.key_units[round % 2].display().to_string(),
                    "--name".into(),
                    PUBLISH_TABLE.into(),
                ];
                npsc_ok(db, &args, context);
                return (0, snapshot(db));
            }
            0
        }
        Op::CoeffImport => {
            let draft = draft_of(&s.editions, IMPORT_SET, |e| e.status.as_str());
            let has = |v: usize| {
                draft.is_some_and(|(_, e)| {
                    expected
                        .coefficient
                        .get(&v)
                        .is_some_and(|(h, _)| *h == e.content_hash)
                })
            };
            usize::from(has(0))
        }
        Op::ReferenceImport => {
            let draft = draft_of(&s.references, IMPORT_TABLE, |e| e.status.as_str());
            let has = |v: usize| {
                draft.is_some_and(|(_, e)| expected.reference.get(&v) == Some(&e.content_hash))
            };
            usize::from(has(0))
        }
        Op::Migrate | Op::Account => 0,
    };
    (variant, s)
}

/// The state every database starts from: the excerpt published (the runs use it), a published
/// reference table, and one stored run, so that every kill has published data to leave alone.
fn base(db: &Db, inputs: &Inputs, expected: &mut Expected, context: &str) {
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let excerpt = Path::new(env!("CARGO_MANIFEST_DIR")).join("../coefficients/npsc1-excerpt");
    let mut import = s(&["coeff", "import"]);
    import.push(excerpt.display().to_string());
    npsc_ok(db, &import, context);
    npsc_ok(
        db,
        &s(&["coeff", "publish", "npsc1-excerpt@1", "--note", "base"]),
        context,
    );
    npsc_ok(
        db,
        &s(&["reference", "import", "tax-rates", "--bundled"]),
        context,
    );
    npsc_ok(
        db,
        &s(&["reference", "publish", "tax-rates", "--note", "base"]),
        context,
    );
    let before = snapshot(db);
    npsc_ok(db, &inputs.args(Op::Account, 0), context);
    let after = snapshot(db);
    let (_, run) = after
        .runs
        .iter()
        .find(|(id, _)| !before.runs.contains_key(id))
        .expect("the base run");
    assert_eq!(run.rows_read as u64, inputs.activity_rows, "{context}");
    assert!(run.results > 0 && run.totals > 0, "{context}: {run:?}");
    expected.run = Some(run.clone());
    expected.base_hash = after.editions["npsc1-excerpt@1"].content_hash.clone();
}

/// Learns what complete runs of `op` write and how long they and their write phase take.
fn calibrate(op: Op, db: &Db, inputs: &Inputs, expected: &mut Expected, context: &str) -> Timing {
    match op {
        Op::CoeffImport | Op::ReferenceImport => {
            let mut timing = None;
            for variant in [0, 1] {
                timing = Some(time_it(db, &inputs.args(op, variant), context));
                let after = snapshot(db);
                if op == Op::CoeffImport {
                    let (_, e) = draft_of(&after.editions, IMPORT_SET, |e| e.status.as_str())
                        .expect("the imported draft");
                    assert_eq!(e.rows, inputs.rows(op) as i64, "{context}");
                    expected
                        .coefficient
                        .insert(variant, (e.content_hash.clone(), e.fingerprint.clone()));
                } else {
                    let (_, e) = draft_of(&after.references, IMPORT_TABLE, |e| e.status.as_str())
                        .expect("the imported draft");
                    let rows = inputs.rows(op) as i64 - variant as i64;
                    assert_eq!(e.row_count, rows, "{context}");
                    expected.reference.insert(variant, e.content_hash.clone());
                }
            }
            timing.expect("two imports")
        }
        Op::CoeffPublish | Op::ReferencePublish => {
            prepare(op, db, inputs, expected, 0, context, snapshot(db));
            time_it(db, &inputs.args(op, 0), context)
        }
        Op::Account | Op::Migrate => time_it(db, &inputs.args(op, 0), context),
    }
}

/// Kills `op` `sizes.kills` times on `engine` and checks the database after each kill; `None`
/// when the engine is not available.
fn crash_test(engine: Engine, op: Op, sizes: Sizes, inputs: &Inputs) -> Option<Tally> {
    let started = Instant::now();
    let seed = seed();
    let mut rng = Rng(seed ^ (op as u64 + 1).wrapping_mul(0x1000_0000_01b3) ^ engine as u64);
    let label = format!("{} {}", engine.name(), op.name());
    let dir = inputs.dir.path();
    let mut db = Db::create(engine, dir, op.tag())?;
    let reference = app::reference::bundled().expect("bundled reference");
    let mut expected = Expected::default();
    if op != Op::Migrate {
        base(&db, inputs, &mut expected, &label);
    }
    let timing = calibrate(op, &db, inputs, &mut expected, &label);
    let mut tally = Tally::default();
    let mut current = snapshot(&db);
    // Until `sizes.kills` processes were killed while running (a process that finishes before
    // its kill point is checked too, but does not count), within a bound.
    let mut i = 0;
    while tally.killed < sizes.kills {
        assert!(
            i < 3 * sizes.kills,
            "{label}: only {} of {i} processes were still running at their kill point \
             (NPSC_CRASH_SEED={seed:#x})",
            tally.killed
        );
        // Half the kills anywhere in the process's life, half in its write phase (spread over
        // the phase's calibrated length and a little beyond, so that some land after the commit).
        let u = rng.unit();
        let at = if i % 2 == 0 {
            KillAt::After(timing.full.mul_f64(1.05 * u))
        } else {
            let phase = timing
                .write
                .map_or(Duration::from_millis(1), |(first, last)| last - first);
            KillAt::InWrite {
                offset: phase.mul_f64(1.2 * u),
                fallback: timing.full * 3,
            }
        };
        let context = format!(
            "{label}, attempt {} ({} killed so far) at {at:?} (NPSC_CRASH_SEED={seed:#x})",
            i + 1,
            tally.killed
        );
        if op == Op::Migrate {
            drop(db);
            db = Db::create(engine, dir, &format!("{}{i}", op.tag())).expect("database");
            current = Snapshot::default();
        }
        let t = Instant::now();
        let (variant, before) = prepare(op, &db, inputs, &expected, i + 1, &context, current);
        tally.phases[2] += t.elapsed();
        let t = Instant::now();
        let fate = kill_after(&db, &inputs.args(op, variant), at, &context);
        tally.phases[0] += t.elapsed();
        tally.kills += 1;
        let context = format!("{context}, {fate:?}");
        if op == Op::Migrate {
            // What the kill left, before npsc opens the database (and migrates the rest).
            let left = snapshot(&db);
            invariants(engine, &before, &left, fate == Fate::Finished)
                .and_then(|new| outcome(op, variant, &expected, &before, &left, new))
                .unwrap_or_else(|e| panic!("{context}: {e}"));
        }
        // npsc opens the database (SQLite rolls a hot journal back) and checks it.
        let t = Instant::now();
        let report = db
            .block_on(app::editions::check(&db.url, &reference))
            .unwrap_or_else(|e| panic!("{context}: the database does not open: {e}"));
        assert!(
            report.problems.is_empty(),
            "{context}: db check: {:?}",
            report.problems
        );
        if (i + 1) % sizes.binary_check_every == 0 {
            let out = npsc_ok(&db, &["db".into(), "check".into()], &context);
            assert!(out.starts_with("consistent"), "{context}: {out}");
            tally.binary_checks += 1;
        }
        tally.phases[1] += t.elapsed();
        let t = Instant::now();
        let after = snapshot(&db);
        tally.phases[2] += t.elapsed();
        let new =
            invariants(engine, &before, &after, true).unwrap_or_else(|e| panic!("{context}: {e}"));
        let done = if op == Op::Migrate {
            after.migrations.len() > before.migrations.len()
        } else {
            outcome(op, variant, &expected, &before, &after, new)
                .unwrap_or_else(|e| panic!("{context}: {e}"))
        };
        match fate {
            Fate::Finished => {
                tally.finished += 1;
                assert!(done, "{context}: npsc finished but nothing changed");
            }
            Fate::Killed {
                write_seen,
                hot_journal,
            } => {
                tally.killed += 1;
                // A hot journal is a write that did not commit: its change must not be there
                // (migrations commit one by one, so earlier ones may be).
                assert!(
                    !(hot_journal && done) || op == Op::Migrate,
                    "{context}: a rollback journal was left, yet the change is there"
                );
                let inside = match engine {
                    Engine::Sqlite => hot_journal,
                    Engine::Postgres => write_seen && (!done || op == Op::Migrate),
                };
                if inside {
                    tally.mid_write += 1;
                } else if done {
                    tally.committed_then_killed += 1;
                }
            }
        }
        current = after;
        i += 1;
    }
    // Still usable: the operation runs to its end, and the database is consistent.
    let context = format!("{label}, after the kills (NPSC_CRASH_SEED={seed:#x})");
    let (variant, _) = prepare(
        op,
        &db,
        inputs,
        &expected,
        sizes.kills + 1,
        &context,
        current,
    );
    npsc_ok(&db, &inputs.args(op, variant), &context);
    let out = npsc_ok(&db, &["db".into(), "check".into()], &context);
    assert!(out.starts_with("consistent"), "{context}: {out}");
    tally.binary_checks += 1;
    tally.elapsed = started.elapsed();
    eprintln!(
        "{label}: {} attempts (seed {seed:#x}): {} killed while running ({} in a write \
         transaction, {} after the commit), {} finished before the kill; {} binary checks; {:.1} s \
         (calibrated {timing:?}; in npsc {:.1} s, checks {:.1} s, reading {:.1} s)",
        tally.kills,
        tally.killed,
        tally.mid_write,
        tally.committed_then_killed,
        tally.finished,
        tally.binary_checks,
        tally.elapsed.as_secs_f64(),
        tally.phases[0].as_secs_f64(),
        tally.phases[1].as_secs_f64(),
        tally.phases[2].as_secs_f64(),
    );
    Some(tally)
}

fn run_all(engine: Engine, sizes: Sizes) {
    let inputs = inputs(sizes);
    for op in [
        Op::Migrate,
        Op::CoeffImport,
        Op::CoeffPublish,
        Op::ReferenceImport,
        Op::ReferencePublish,
        Op::Account,
    ] {
        if crash_test(engine, op, sizes, &inputs).is_none() {
            eprintln!(
                "skipped the {} crash tests: TEST_PG_URL is not set",
                engine.name()
            );
            return;
        }
    }
}

#[test]
fn kill_9_leaves_sqlite_consistent() {
    run_all(Engine::Sqlite, CI);
}

#[test]
fn kill_9_leaves_postgres_consistent() {
    run_all(Engine::Postgres, CI);
}

/// The long runs behind the README's figures (100 kills per operation and engine, larger data).
#[test]
#[ignore = "minutes; run with --release -- --ignored"]
fn kill_9_long_sqlite() {
    run_all(Engine::Sqlite, LONG);
}

#[test]
#[ignore = "minutes; run with --release -- --ignored"]
fn kill_9_long_postgres() {
    run_all(Engine::Postgres, LONG);
}

#[test]
fn generated_usccs_are_valid() {
    for i in [0, 1, 99_999] {
        let code = uscc(110101, i);
        assert!(accounting::codes::Uscc::parse(&code).is_ok(), "{code}");
    }
}

/// Whether a publish took effect: `false` when the edition is still the draft, `true` when it is
/// exactly the published draft, an error for anything else.
fn draft_or_published<T: PartialEq + std::fmt::Debug>(
    name: &str,
    old: &T,
    now: &T,
    published: &T,
    has_publish_time: bool,
) -> Result<bool, String> {
    if now == old {
        Ok(false)
    } else if now == published && has_publish_time {
        Ok(true)
    } else {
        Err(format!(
            "{name} is neither the draft nor published: {now:?}"
        ))
    }
}
