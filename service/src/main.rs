//! The `npsc-service` binary; `npsc serve` starts the same service.

fn main() -> std::process::ExitCode {
    service::main()
}
