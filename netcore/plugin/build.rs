//! Records the target triple, which plugins must share with the host.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=NETCORE_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
