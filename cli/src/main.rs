//! The `npsc` binary: everything lives in the `cli` library so tests can run it in-process.

fn main() {
    std::process::exit(cli::main());
}
