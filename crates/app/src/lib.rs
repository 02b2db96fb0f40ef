//! npsc's application API: the use cases that the command line (and the HTTP service) call.
//!
//! Brief overview:
//! - [`reference::bundled`]: the reference lists embedded in the binary.
//! - [`account::account`]: coefficients + registry + activity → results and totals.
//! - [`validate::validate`]: every issue of any supported file.
//! - [`lookup`]: region and industry codes, USCC checks.
//! - [`output`]: totals as a table for people, CSV or JSON.
//! - [`registry`]: the enterprise registry in the database: change-set imports, status
//!   history, writeoff of inactive enterprises, matching other sources by USCC.
//! - [`runs`], [`upload`]: stored runs (of files or uploads), stale runs, statistics.
//!
//! - [`categories`]: regional totals by source category (industrial key and non-key, domestic,
//!   agricultural, centralized, mobile).
//! - [`sheet`]: tabular views rendered as a table, CSV or JSON.
//!
//! Errors are [`AppError`]: user errors (bad input, exit status 1) or internal errors (exit 2),
//! each with a stable code.

pub mod account;
pub mod categories;
pub mod consistency;
pub mod editions;
pub mod error;
pub mod keyunits;
pub mod lookup;
pub mod output;
pub mod quota;
pub mod reconcile;
pub mod reference;
pub mod reference_tables;
pub mod registry;
pub mod report;
pub mod runs;
pub mod sheet;
pub mod synth;
pub mod tax;
pub mod tokens;
pub mod upload;
pub mod uploaded;
pub mod validate;

pub use error::{AppError, ErrorKind};
pub use ingest::reference::Reference;
pub use ingest::table::{EncodingChoice, ReadOptions};
pub use ingest::{Issue, Issues, Location, Severity};
