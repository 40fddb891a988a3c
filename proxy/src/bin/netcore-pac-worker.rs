//! `netcore-pac-worker`: the sandbox process in which netcore-proxy runs PAC scripts.
//! It is started by `netcore_proxy::pac::PacEvaluator`, not by hand.

fn main() -> std::process::ExitCode {
    netcore_proxy::pac::worker::run_worker()
}
