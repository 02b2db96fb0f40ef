//! The pure calculation core of npsc: codes, pollutants, units, scale classes, coefficient
//! formulas, coefficient sets, the accounting engine and aggregation.
//!
//! Brief overview:
//! - [`codes`]: GB/T 2260 regions, GB/T 4754-2017 industries, GB 32100 unified social credit codes.
//! - [`pollutant`]: the canonical pollutant list with aliases, medium and tax equivalents.
//! - [`units`] and [`scale`]: units with exact conversions, coefficient units, scale classes.
//! - [`formula`]: generation coefficients written as formulas such as `16S`.
//! - [`coefficient`]: validated coefficient sets with a key index and a content hash.
//! - [`diff`]: what changed between two editions of a coefficient set, matched by key.
//! - [`activity`]: the enterprise registry and activity rows.
//! - [`engine`]: activity × coefficient → generated and emitted quantities, with provenance.
//! - [`sources`]: domestic, livestock, centralized-facility and mobile sources through the same
//!   arithmetic ([`engine::apply`]), and their roll-up by category.
//! - [`totals`]: aggregation by year, pollutant, region level and industry level.
//! - [`reconcile`]: weighted least-squares reconciliation of measurements with gross-error tests.
//!
//! Architecture invariant: this crate does no I/O, no async, no SQL and no serialization. Callers
//! read files (the `ingest` crate) and hand over values; problems come back as data.

pub mod activity;
pub mod codes;
pub mod coefficient;
pub mod date;
pub mod diff;
pub mod engine;
pub mod formula;
mod jacobi;
pub mod keyunits;
pub mod permit;
pub mod pollutant;
pub mod quota;
pub mod reconcile;
pub mod render;
pub mod scale;
pub mod sources;
pub mod tax;
pub mod text;
pub mod totals;
pub mod units;

/// A hash map with a fast, fixed-seed hasher for the maps consulted for every activity row
/// (never iterated into output, so the order of its entries does not matter).
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;
