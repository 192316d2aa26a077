//! Version information.

use super::boundary::guard_ptr;
use std::ffi::c_char;

/// Major version: changes only with an incompatible ABI (and the soname).
pub const KERBSASL_VERSION_MAJOR: u32 = 1;
/// Minor version: compatible additions.
pub const KERBSASL_VERSION_MINOR: u32 = 0;
/// Patch version: fixes.
pub const KERBSASL_VERSION_PATCH: u32 = 0;

/// The version of the loaded library, e.g. "1.0.0".
///
/// Compare with KERBSASL_VERSION_STRING to detect a header/library mismatch.
/// @return a static string; never NULL, never to be freed.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn kerbsasl_version() -> *const c_char {
    guard_ptr(|| c"1.0.0".as_ptr())
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
        let loaded = unsafe { std::ffi::CStr::from_ptr(kerbsasl_version()) };
        assert_eq!(loaded.to_str().unwrap(), package);
    }
}
