//! The request bodies the HTTP service accepts, through the functions its handlers call (no
//! socket: `service` keeps its body types private, so their shapes are repeated here and the
//! handler's steps are done in the same order). Input: one byte choosing the body, one byte of
//! options, then the body.
//!
//! 0. `POST /api/v1/runs` (and `/impact`) with a JSON body `{"registry": [...], "activity":
//!    [...]}`: the envelope split as `routes::runs::inputs` does, then both members accounted with
//!    `npsc1-excerpt` through `app::upload::impact_upload` (staging, reading, the engine, totals).
//! 1. The same endpoint with a multipart activity part in CSV, JSON or Excel (by the option
//!    byte's file name) beside the sample registry.
//! 2. `POST /api/v1/registry/enterprises/{uscc}/status`: `{"status", "date", "note",
//!    "revision"}`, checked as `app::registry::change_status` checks it before the store.
//! 3. The `{"note": …}` body of publish and retire.
//! 4. `POST /api/v1/tax` with monitored emissions (CSV or JSON) beside the sample registry:
//!    `app::uploaded::tax_upload` with the bundled tax tables.
#![no_main]

use std::sync::OnceLock;

use accounting::codes::{IndustryLevel, RegionLevel};
use accounting::totals::Grouping;
use app::upload::Upload;
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

#[derive(Deserialize)]
#[allow(dead_code)]
struct StatusBody {
    status: String,
    date: Option<String>,
    note: String,
    revision: Option<i64>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct NoteBody {
    note: String,
}

fn sample(name: &str) -> &'static [u8] {
    static FILES: OnceLock<Vec<(&'static str, Vec<u8>)>> = OnceLock::new();
    let files = FILES.get_or_init(|| {
        ["registry.csv", "activity.csv"]
            .into_iter()
            .map(|n| {
                let path = npsc_fuzz::root().join("datasets/sample-synthetic").join(n);
                (n, std::fs::read(path).expect(n))
            })
            .collect()
    });
    &files.iter().find(|(n, _)| *n == name).expect(name).1
}

fn tax_tables() -> &'static app::tax::TaxTables {
    static TABLES: OnceLock<app::tax::TaxTables> = OnceLock::new();
    TABLES.get_or_init(|| {
        app::tax::tables(None, None, &Default::default()).expect("bundled tax tables")
    })
}

fn grouping(byte: u8) -> Grouping {
    Grouping {
        region: [
            RegionLevel::National,
            RegionLevel::Province,
            RegionLevel::Prefecture,
            RegionLevel::County,
        ][usize::from(byte & 3)],
        industry: [
            None,
            Some(IndustryLevel::Section),
            Some(IndustryLevel::Division),
            Some(IndustryLevel::Class),
        ][usize::from(byte >> 2 & 3)],
    }
}

fn impact(registry: Upload<'_>, activity: Upload<'_>, options: u8) {
    let set = npsc_fuzz::coefficients();
    let reference = npsc_fuzz::reference();
    match app::upload::impact_upload(set, set, registry, activity, grouping(options), reference) {
        Ok(lines) => {
            // The same set on both sides: nothing may change.
            for line in &lines {
                std::hint::black_box(format!("{line:?}"));
            }
            std::hint::black_box(app::editions::render_impact(&lines, "a", "b", true));
        }
        Err(e) => {
            std::hint::black_box(e.to_string());
        }
    }
}

/// `routes::runs::inputs` for a JSON body: an object with exactly `registry` and `activity`.
fn runs_json(body: &[u8], options: u8) {
    let Ok(mut body) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body)
    else {
        return;
    };
    let mut take = |name: &str| -> Option<Vec<u8>> {
        let value = body.remove(name)?;
        serde_json::to_vec(&value).ok()
    };
    let (Some(registry), Some(activity)) = (take("registry"), take("activity")) else {
        return;
    };
    if !body.is_empty() {
        return;
    }
    impact(
        Upload {
            label: "registry.json",
            bytes: &registry,
        },
        Upload {
            label: "activity.json",
            bytes: &activity,
        },
        options,
    );
}

fn status(body: &[u8]) {
    let Ok(body) = serde_json::from_slice::<StatusBody>(body) else {
        return;
    };
    // `app::registry::change_status`'s checks, in its order, before it reaches the store.
    if let Err(e) = app::registry::parse_status(&body.status) {
        std::hint::black_box(e.to_string());
    }
    if let Some(date) = body
        .date
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        && let Err(e) = accounting::date::Date::parse(date)
    {
        std::hint::black_box(e.to_string());
    }
    std::hint::black_box(body.note.trim().is_empty());
}

fuzz_target!(|data: &[u8]| {
    npsc_fuzz::init();
    let [which, options, body @ ..] = data else {
        return;
    };
    let label = match options >> 4 & 3 {
        0 | 1 => "activity.csv",
        2 => "activity.json",
        _ => "activity.xlsx",
    };
    match which % 5 {
        0 => runs_json(body, *options),
        1 => impact(
            Upload {
                label: "registry.csv",
                bytes: sample("registry.csv"),
            },
            Upload { label, bytes: body },
            *options,
        ),
        2 => status(body),
        3 => {
            std::hint::black_box(serde_json::from_slice::<NoteBody>(body).ok());
        }
        _ => {
            let label = if options & 0x10 != 0 {
                "monitored_emissions.json"
            } else {
                "monitored_emissions.csv"
            };
            let outcome = app::uploaded::tax_upload(
                Upload {
                    label: "registry.csv",
                    bytes: sample("registry.csv"),
                },
                Upload { label, bytes: body },
                npsc_fuzz::reference(),
                tax_tables(),
                app::tax::TaxSettings::default(),
            );
            match outcome {
                Ok(outcome) => {
                    std::hint::black_box(format!("{:?}", outcome.declaration));
                }
                Err(e) => {
                    std::hint::black_box(e.to_string());
                }
            }
        }
    }
});
