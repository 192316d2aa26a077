//! Replays the committed fuzz corpus and every regression input (inputs
//! that once made a fuzz target fail) through the fuzz harnesses.

mod support;

use std::path::Path;
use support::{Realm, RealmOptions, test};

fn main() {
    support::run(RealmOptions::default(), || {
        vec![
            test("start_corpus_and_regressions", |_: &Realm| {
                replay("start", kerbsasl::testing::fuzz::start)
            }),
            test("step_corpus_and_regressions", |_: &Realm| {
                replay("step", kerbsasl::testing::fuzz::step)
            }),
            test("http_corpus_and_regressions", |_: &Realm| {
                replay("http", kerbsasl::testing::fuzz::http)
            }),
        ]
    })
}

fn replay(target: &str, harness: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            harness(&std::fs::read(&path).unwrap());
            count += 1;
        }
    }
    assert!(count > 0, "no inputs for {target}");
}
