//! Sets the soname and checks that include/kerbsasl.h matches the sources.
//!
//! The header is rendered with cbindgen in memory and compared with the
//! committed one; with KERBSASL_UPDATE_HEADER=1 it is rewritten instead.
//! Nothing is written outside OUT_DIR otherwise.

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let major = cargo_env("CARGO_PKG_VERSION_MAJOR");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libkerbsasl.so.{major}");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=include/kerbsasl.h");
    println!("cargo:rerun-if-env-changed=KERBSASL_UPDATE_HEADER");

    let mut config = cbindgen::Config::from_file(manifest_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    config.after_includes = Some(version_macros());
    let bindings = cbindgen::Builder::new()
        .with_crate(&manifest_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen renders the header");
    let mut rendered = Vec::new();
    bindings.write(&mut rendered);

    let committed_path = manifest_dir.join("include/kerbsasl.h");
    if std::env::var_os("KERBSASL_UPDATE_HEADER").is_some_and(|v| v != "0") {
        std::fs::write(&committed_path, &rendered).expect("write include/kerbsasl.h");
        return;
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    std::fs::write(out.join("kerbsasl.h"), &rendered).expect("write OUT_DIR/kerbsasl.h");
    let committed = std::fs::read(&committed_path).unwrap_or_default();
    if committed != rendered {
        eprintln!(
            "include/kerbsasl.h is out of date with the sources: run with \
             KERBSASL_UPDATE_HEADER=1 and commit"
        );
        std::process::exit(1);
    }
}

fn cargo_env(name: &str) -> String {
    std::env::var(name).expect("cargo sets it")
}

/// The header's version macros, from Cargo.toml's version: the one place
/// it is written (the Makefile and the Erlang application read it from the
/// header; src/ffi/version.rs from cargo's environment).
fn version_macros() -> String {
    format!(
        "
/** The version as a string, \"MAJOR.MINOR.PATCH\". */
#define KERBSASL_VERSION_STRING \"{}\"

/**
 * Major version: changes only with an incompatible ABI (and the soname).
 */
#define KERBSASL_VERSION_MAJOR {}

/**
 * Minor version: compatible additions.
 */
#define KERBSASL_VERSION_MINOR {}

/**
 * Patch version: fixes.
 */
#define KERBSASL_VERSION_PATCH {}",
        cargo_env("CARGO_PKG_VERSION"),
        cargo_env("CARGO_PKG_VERSION_MAJOR"),
        cargo_env("CARGO_PKG_VERSION_MINOR"),
        cargo_env("CARGO_PKG_VERSION_PATCH"),
    )
}
