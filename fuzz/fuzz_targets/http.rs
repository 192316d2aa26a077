//! kerbsasl's HTTP Negotiate round on arbitrary headers and tokens.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kerbsasl::testing::fuzz::http(data));
