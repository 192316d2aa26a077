//! kerbsasl's security layers: the client's choice under an open policy,
//! and protected data after the handshake.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kerbsasl::testing::fuzz::layers(data));
