//! End-to-end tests of npsc over `datasets/` and `coefficients/`, through the application API and
//! the real command line run in-process. One test binary for the whole package (faster linking).
//!
//! Where new tests go:
//! - `sample`: the bundled sample against its hand computation. Add a case to the sample and to
//!   its independent computation, not a second sample.
//! - `engine`: single activity rows against the real coefficient excerpt, expectations computed by
//!   hand in the test. Most accounting-rule tests belong here.
//! - `bad_input`: files with deliberate errors and the located messages they must produce.
//! - `bad_corpus`: the bad-input corpus `tests/bad-inputs/` (one file per case, its expected
//!   issue or acceptance in `expected.csv`), through the readers and the command line. Add a
//!   broken-input case there, not here.
//! - `cli`: exit codes, output formats, help texts of the `npsc` command line.
//! - `properties`: invariants (linearity, order and partition independence).
//! - `golden`: snapshots of whole outputs over `datasets/`.
//! - `editions`: the coefficient edition workflow through the command line and a database.
//! - `runs`: stored accounting runs, their exports and staleness.
//! - `registry`: the enterprise registry in the database: change-set imports, status history,
//!   writeoff, matching other sources.

mod bad_corpus;
mod bad_input;
mod categories;
mod cli;
mod consistency;
mod editions;
mod engine;
mod golden;
mod keyunits;
mod properties;
mod quota;
mod reconcile;
mod reference_tables;
mod registry;
mod report;
mod runs;
mod sample;
mod support;
mod tax;
