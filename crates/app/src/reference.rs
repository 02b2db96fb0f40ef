//! The reference lists shipped in `datasets/reference/`, embedded in the binary so that npsc
//! works from any folder, and read through the same validating readers as user files.

use ingest::Source;
use ingest::reference::{Reference, ReferenceSources, load};

use crate::AppError;

const REGIONS: &[u8] = include_bytes!("../../../datasets/reference/regions_gbt2260.csv");
const INDUSTRIES: &[u8] = include_bytes!("../../../datasets/reference/industries_gbt4754_2017.csv");
const POLLUTANTS: &[u8] = include_bytes!("../../../datasets/reference/pollutants.csv");
/// The law's equivalent table as embedded (also the bundled tax table).
pub(crate) const EQUIVALENTS: &[u8] =
    include_bytes!("../../../datasets/reference/pollution_equivalents.csv");

/// Loads the embedded reference lists. A failure here is a packaging bug, hence internal.
pub fn bundled() -> Result<Reference, AppError> {
    load(ReferenceSources {
        regions: Source::Bytes {
            name: "datasets/reference/regions_gbt2260.csv",
            bytes: REGIONS,
        },
        industries: Source::Bytes {
            name: "datasets/reference/industries_gbt4754_2017.csv",
            bytes: INDUSTRIES,
        },
        pollutants: Source::Bytes {
            name: "datasets/reference/pollutants.csv",
            bytes: POLLUTANTS,
        },
        equivalents: Source::Bytes {
            name: "datasets/reference/pollution_equivalents.csv",
            bytes: EQUIVALENTS,
        },
    })
    .map_err(|issues| {
        let first: Vec<String> = issues.iter().take(5).map(|i| i.to_string()).collect();
        AppError::Internal(format!(
            "the embedded reference data is invalid ({} errors): {}",
            issues.error_count(),
            first.join("; ")
        ))
    })
}
