//! Version information, from Cargo.toml (build.rs renders the header's
//! KERBSASL_VERSION_* macros from the same source).

use super::boundary::guard_ptr;
use std::ffi::{CStr, c_char};

/// Major version: changes only with an incompatible ABI (and the soname).
/// cbindgen:ignore
pub const KERBSASL_VERSION_MAJOR: u32 = parse(env!("CARGO_PKG_VERSION_MAJOR"));
/// Minor version: compatible additions.
/// cbindgen:ignore
pub const KERBSASL_VERSION_MINOR: u32 = parse(env!("CARGO_PKG_VERSION_MINOR"));
/// Patch version: fixes.
/// cbindgen:ignore
pub const KERBSASL_VERSION_PATCH: u32 = parse(env!("CARGO_PKG_VERSION_PATCH"));

const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(version) => version,
        Err(_) => panic!("the package version contains a NUL byte"),
    };

/// A decimal version number; fails the build if it is not one.
const fn parse(digits: &str) -> u32 {
    let digits = digits.as_bytes();
    assert!(!digits.is_empty(), "empty version number");
    let mut value: u32 = 0;
    let mut i = 0;
    while i < digits.len() {
        assert!(digits[i].is_ascii_digit(), "version number is not decimal");
        value = value * 10 + (digits[i] - b'0') as u32;
        i += 1;
    }
    value
}

/// The version of the loaded library, e.g. "1.0.0".
///
/// Compare with KERBSASL_VERSION_STRING to detect a header/library mismatch.
/// @return a static string; never NULL, never to be freed.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn kerbsasl_version() -> *const c_char {
    guard_ptr(|| VERSION.as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_the_package_version() {
        let package = env!("CARGO_PKG_VERSION");
        let ours =
            format!("{KERBSASL_VERSION_MAJOR}.{KERBSASL_VERSION_MINOR}.{KERBSASL_VERSION_PATCH}");
        assert_eq!(ours, package);
        // SAFETY: kerbsasl_version returns a static NUL-terminated string.
        let loaded = unsafe { CStr::from_ptr(kerbsasl_version()) };
        assert_eq!(loaded.to_str().unwrap(), package);
    }

    #[test]
    fn header_macros_match_the_package_version() {
        let header = include_str!("../../include/kerbsasl.h");
        for (name, value) in [
            ("STRING", format!("\"{}\"", env!("CARGO_PKG_VERSION"))),
            ("MAJOR", KERBSASL_VERSION_MAJOR.to_string()),
            ("MINOR", KERBSASL_VERSION_MINOR.to_string()),
            ("PATCH", KERBSASL_VERSION_PATCH.to_string()),
        ] {
            let line = format!("#define KERBSASL_VERSION_{name} {value}\n");
            assert!(header.contains(&line), "header lacks {line:?}");
        }
    }
}
