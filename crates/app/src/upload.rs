//! Accounting uploaded inputs (the HTTP service's registry and activity files): the same
//! accounting and the same stored run as for files on disk, with the inputs recorded as
//! `upload:<file name>` and the SHA-256 of their bytes.
//!
//! The readers of `ingest` stream from paths, so the uploaded bytes are written for the duration
//! of the run to a private temporary folder (created with owner-only permissions, removed when
//! the run ends, whatever its outcome). The client's file name is only a label: it is reduced to
//! its last component and never chooses where anything is written; locations in issues name the
//! label, never the temporary path.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use accounting::coefficient::CoefficientSet;
use accounting::engine::Policy;
use accounting::totals::Grouping;
use ingest::reference::Reference;
use ingest::table::ReadOptions;
use sha2::{Digest, Sha256};

use crate::AppError;
use crate::account::{AccountReport, AccountSettings};
use crate::editions::{EditionInfo, EditionStatus, Selector, Store};
use crate::runs::{Input, Provenance, RunInfo, UPLOAD_PREFIX};

/// One uploaded file: the client's file name (a label whose extension tells the format: `.csv`,
/// `.xlsx`, `.json`, …) and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    /// The file name as sent; only its last component is used, as a label.
    pub label: &'a str,
    /// The content.
    pub bytes: &'a [u8],
}

/// How the edition of an uploaded run is chosen: a pinned edition (`edition` = a number or
/// `latest`), or the edition in force at `at` under `rule` (`effective` or `next-month`);
/// `latest` when neither is given. Drafts are refused: a stored run must name an edition that
/// never changes.
#[derive(Debug, Clone, Default)]
pub struct EditionRequest {
    /// Coefficient set id.
    pub set: String,
    /// `N` or `latest`.
    pub edition: Option<String>,
    /// Accounting date, `YYYY-MM-DD`.
    pub at: Option<String>,
    /// `effective` (default) or `next-month`.
    pub rule: Option<String>,
}

/// What changes the numbers of an uploaded run (the options of `npsc account`).
#[derive(Debug, Clone, Copy)]
pub struct UploadSettings {
    /// How totals are grouped.
    pub grouping: Grouping,
    /// Choices that change numbers.
    pub policy: Policy,
    /// Fail, storing nothing, when any row matches no coefficient.
    pub deny_unaccounted: bool,
}

/// Resolves the edition an uploaded run uses and says how it was chosen.
pub async fn resolve_edition(
    store: &Store,
    request: &EditionRequest,
) -> Result<(EditionInfo, Provenance), AppError> {
    let rule = request.rule.as_deref().unwrap_or("effective");
    let (text, selector) = match (&request.edition, &request.at) {
        (Some(_), Some(_)) => {
            return Err(AppError::Argument {
                message: "give either an edition or an accounting date, not both".to_string(),
                hint: Some(
                    "`edition=3` pins an edition; `at=2024-03-20&rule=next-month` resolves one"
                        .to_string(),
                ),
            });
        }
        (Some(edition), None) => {
            let text = format!("{}@{}", request.set, edition.trim());
            let selector = crate::editions::selector(&text, None, rule)?;
            (text, selector)
        }
        (None, Some(at)) => (
            request.set.clone(),
            crate::editions::selector(&request.set, Some(at), rule)?,
        ),
        (None, None) => {
            let text = format!("{}@latest", request.set);
            let selector = crate::editions::selector(&text, None, rule)?;
            (text, selector)
        }
    };
    if request.at.is_none() && request.rule.is_some() {
        return Err(AppError::Argument {
            message: "a date rule needs an accounting date".to_string(),
            hint: Some("add `at=YYYY-MM-DD`, or leave the rule out".to_string()),
        });
    }
    if matches!(selector, Selector::Draft { .. }) {
        return Err(draft_refused(&text));
    }
    let info = crate::editions::resolve(store, &selector).await?;
    if info.status == EditionStatus::Draft {
        return Err(draft_refused(&info.name()));
    }
    let provenance = Provenance {
        edition: Some(info.edition),
        selector: text,
        rule: request.at.as_ref().map(|_| rule.to_string()),
        date: request.at.clone(),
        coefficients_path: None,
    };
    Ok((info, provenance))
}

fn draft_refused(name: &str) -> AppError {
    AppError::Argument {
        message: format!(
            "`{name}` is a draft, which may still change: runs use published editions"
        ),
        hint: Some("publish the draft first, or name a published edition".to_string()),
    }
}

/// Accounts uploaded registry and activity files with `set` and stores the run, all or
/// nothing: bad input is an [`AppError::Input`] listing every located issue (located by the
/// files' labels) and nothing is stored.
#[allow(clippy::too_many_arguments, reason = "a use case's inputs, each named")]
pub async fn account_upload(
    store: &Store,
    set: Arc<CoefficientSet>,
    provenance: Provenance,
    registry: Upload<'_>,
    activity: Upload<'_>,
    settings: UploadSettings,
    reference: Arc<Reference>,
    actor: &str,
) -> Result<(RunInfo, AccountReport), AppError> {
    let staged = Staged::new(registry, activity)?;
    let account = AccountSettings {
        coefficients: PathBuf::new(),
        registry: staged.registry.clone(),
        activity: staged.activity.clone(),
        grouping: settings.grouping,
        policy: settings.policy,
        read: ReadOptions::default(),
        results: None,
        deny_unaccounted: settings.deny_unaccounted,
    };
    let inputs = [
        Input {
            path: format!("{UPLOAD_PREFIX}{}", staged.labels[0]),
            hash: sha256(registry.bytes),
        },
        Input {
            path: format!("{UPLOAD_PREFIX}{}", staged.labels[1]),
            hash: sha256(activity.bytes),
        },
    ];
    let outcome =
        crate::runs::store_run(store, set, provenance, account, reference, actor, inputs).await;
    let (id, report) = outcome.map_err(|e| staged.relabel(e))?;
    Ok((crate::runs::show(store, id).await?, report))
}

/// The impact report of two coefficient sets on uploaded registry and activity files (see
/// [`crate::editions::impact`]).
pub fn impact_upload(
    old: &CoefficientSet,
    new: &CoefficientSet,
    registry: Upload<'_>,
    activity: Upload<'_>,
    grouping: Grouping,
    reference: &Reference,
) -> Result<Vec<crate::editions::ImpactLine>, AppError> {
    let staged = Staged::new(registry, activity)?;
    let settings = AccountSettings {
        coefficients: PathBuf::new(),
        registry: staged.registry.clone(),
        activity: staged.activity.clone(),
        grouping,
        policy: Policy {
            missing_operation_rate: accounting::engine::OperationRatePolicy::Nominal,
        },
        read: ReadOptions::default(),
        results: None,
        deny_unaccounted: false,
    };
    crate::editions::impact(old, new, &settings, reference).map_err(|e| staged.relabel(e))
}

/// Reconciles uploaded registry, activity and permit report files with `set` and stores the
/// reconciliation, all or nothing: bad input is an [`AppError::Input`] listing every located
/// issue (located by the files' labels) and nothing is stored. The parameters are checked first.
#[allow(clippy::too_many_arguments, reason = "a use case's inputs, each named")]
pub async fn reconcile_upload(
    store: &Store,
    set: Arc<CoefficientSet>,
    provenance: Provenance,
    registry: Upload<'_>,
    activity: Upload<'_>,
    reports: Upload<'_>,
    parameters: crate::reconcile::ReconcileParameters,
    reference: Arc<Reference>,
    actor: &str,
) -> Result<
    (
        crate::reconcile::ReconciliationInfo,
        crate::reconcile::ReconcileReport,
    ),
    AppError,
> {
    parameters.check(crate::reconcile::ParameterNames::Query)?;
    let started_at = store::now_utc();
    let staged = Staged::stage(registry, activity, Some(reports))?;
    let settings = parameters.settings(
        staged.registry.clone(),
        staged.activity.clone(),
        staged.reports.clone().unwrap_or_default(),
        ReadOptions::default(),
    );
    let inputs =
        [(0, registry.bytes), (1, activity.bytes), (2, reports.bytes)].map(|(i, bytes)| Input {
            path: format!("{UPLOAD_PREFIX}{}", staged.labels[i]),
            hash: sha256(bytes),
        });
    let made = crate::reconcile::Made {
        provenance,
        inputs,
        parameters,
        actor: actor.to_string(),
        started_at,
        elapsed_ms: 0,
    };
    let relabel = |text: &str| staged.relabel_text(text);
    let outcome =
        crate::reconcile::reconcile_and_store(store, set, settings, reference, made, &relabel)
            .await;
    let (info, report, _) = outcome.map_err(|e| staged.relabel(e))?;
    Ok((info, report))
}

/// SHA-256 of bytes, hex.
pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The label of an uploaded file: its last path component without control characters, at most
/// 100 characters; `fallback` when nothing usable is left.
pub fn safe_label(sent: &str, fallback: &str) -> String {
    let name: String = sent
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    let name = name.trim().trim_start_matches('.').trim().to_string();
    if name.is_empty() {
        fallback.to_string()
    } else {
        name
    }
}

/// The uploads written to a private temporary folder for the duration of a run: the registry,
/// the activity and, for a reconciliation, the permit reports.
struct Staged {
    _dir: tempfile::TempDir,
    registry: PathBuf,
    activity: PathBuf,
    reports: Option<PathBuf>,
    labels: Vec<String>,
}

impl Staged {
    fn new(registry: Upload<'_>, activity: Upload<'_>) -> Result<Staged, AppError> {
        Staged::stage(registry, activity, None)
    }

    fn stage(
        registry: Upload<'_>,
        activity: Upload<'_>,
        reports: Option<Upload<'_>>,
    ) -> Result<Staged, AppError> {
        let dir = tempfile::Builder::new()
            .prefix("npsc-upload-")
            .tempdir()
            .map_err(|e| AppError::Internal(format!("cannot stage the upload: {e}")))?;
        let mut uploads = vec![
            ("registry", registry, "registry.csv"),
            ("activity", activity, "activity.csv"),
        ];
        uploads.extend(reports.map(|r| ("reports", r, "permit_reports.csv")));
        let labels: Vec<String> = uploads
            .iter()
            .map(|(_, upload, fallback)| safe_label(upload.label, fallback))
            .collect();
        let mut paths = Vec::new();
        // One sub-folder per input, so that two uploads with the same name never collide.
        for ((role, upload, _), label) in uploads.into_iter().zip(&labels) {
            let folder = dir.path().join(role);
            let path = folder.join(label);
            std::fs::create_dir(&folder)
                .and_then(|()| std::fs::write(&path, upload.bytes))
                .map_err(|e| AppError::Internal(format!("cannot stage the upload: {e}")))?;
            paths.push(path);
        }
        let mut paths = paths.into_iter();
        Ok(Staged {
            _dir: dir,
            registry: paths.next().unwrap_or_default(),
            activity: paths.next().unwrap_or_default(),
            reports: paths.next(),
            labels,
        })
    }

    /// Names the uploads by their labels in a text (e.g. a report's origin), never by their
    /// temporary paths.
    fn relabel_text(&self, text: &str) -> String {
        let paths = [Some(&self.registry), Some(&self.activity)]
            .into_iter()
            .chain([self.reports.as_ref()])
            .flatten();
        let mut text = text.to_string();
        for (path, label) in paths.zip(&self.labels) {
            text = text.replace(path.display().to_string().as_str(), label);
        }
        text
    }

    /// Names the uploads by their labels in an error, never by their temporary paths.
    fn relabel(&self, error: AppError) -> AppError {
        let replace = |text: &str| self.relabel_text(text);
        match error {
            AppError::Input {
                summary,
                mut issues,
                omitted,
            } => {
                for issue in &mut issues {
                    issue.location.file = replace(&issue.location.file);
                    issue.message = replace(&issue.message);
                }
                issues.sort();
                AppError::Input {
                    summary: replace(&summary),
                    issues,
                    omitted,
                }
            }
            AppError::Path {
                action,
                path,
                source,
            } => AppError::Path {
                action,
                path: Path::new(&replace(&path.display().to_string())).to_path_buf(),
                source,
            },
            AppError::Internal(message) => AppError::Internal(replace(&message)),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::safe_label;

    #[test]
    fn labels_are_last_components() {
        assert_eq!(safe_label("../../etc/passwd", "r.csv"), "passwd");
        assert_eq!(safe_label("C:\\x\\活动.xlsx", "r.csv"), "活动.xlsx");
        assert_eq!(safe_label("..", "r.csv"), "r.csv");
        assert_eq!(safe_label("a\u{0}.json", "r.csv"), "a.json");
        assert_eq!(safe_label("", "activity.csv"), "activity.csv");
    }
}
