//! Shared helpers for the end-to-end tests live in `it/`; this library is intentionally empty.
