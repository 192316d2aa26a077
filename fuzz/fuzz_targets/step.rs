//! kerbsasl's server steps after a genuine context is established.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kerbsasl::testing::fuzz::step(data));
