//! kerbsasl's server start on arbitrary initial tokens.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kerbsasl::testing::fuzz::start(data));
