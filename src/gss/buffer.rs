//! GSSAPI buffers: borrowed input descriptors and owned output buffers.

use libgssapi_sys as sys;
use std::ffi::c_void;

/// A descriptor borrowing `bytes` for one call, for inputs GSSAPI takes
/// through non-const pointers but does not write through (not gss_unwrap's
/// token: see [`scratch`]).
pub fn borrowed(bytes: &[u8]) -> sys::gss_buffer_desc {
    sys::gss_buffer_desc {
        length: bytes.len(),
        value: if bytes.is_empty() {
            std::ptr::null_mut()
        } else {
            bytes.as_ptr() as *mut c_void
        },
    }
}

/// A descriptor for `bytes` that the call may rewrite: MIT's gss_unwrap
/// works on CFX tokens in place (it rotates them by their RRC and rewrites
/// header fields) although the token is an input.
pub fn scratch(bytes: &mut [u8]) -> sys::gss_buffer_desc {
    sys::gss_buffer_desc {
        length: bytes.len(),
        value: if bytes.is_empty() {
            std::ptr::null_mut()
        } else {
            bytes.as_mut_ptr().cast()
        },
    }
}

/// An output buffer allocated by GSSAPI, released with gss_release_buffer.
pub struct OwnedBuffer(sys::gss_buffer_desc);

impl OwnedBuffer {
    pub fn new() -> Self {
        OwnedBuffer(sys::gss_buffer_desc {
            length: 0,
            value: std::ptr::null_mut(),
        })
    }

    pub fn as_mut_ptr(&mut self) -> sys::gss_buffer_t {
        &mut self.0
    }

    pub fn as_bytes(&self) -> &[u8] {
        if self.0.value.is_null() || self.0.length == 0 {
            return &[];
        }
        // SAFETY: GSSAPI filled `value` with `length` readable bytes that live
        // until gss_release_buffer in Drop.
        unsafe { std::slice::from_raw_parts(self.0.value as *const u8, self.0.length) }
    }
}

impl Drop for OwnedBuffer {
    fn drop(&mut self) {
        if self.0.value.is_null() {
            return;
        }
        if self.0.length == 0 {
            // MIT's unwrap of an empty message returns malloc(0), which
            // gss_release_buffer skips because the length is 0; MIT's
            // gssalloc is malloc/free on Unix. Found by fuzzing.
            // SAFETY: the pointer came from GSSAPI's malloc and is freed once.
            unsafe { libc::free(self.0.value) };
            return;
        }
        let mut minor = 0;
        // SAFETY: the buffer was allocated by GSSAPI and is released once.
        unsafe { sys::gss_release_buffer(&mut minor, &mut self.0) };
    }
}
