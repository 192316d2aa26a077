//! Writes fresh genuine initial tokens into a directory, to seed the
//! `start` fuzz target with tokens that decrypt in the current realm (or,
//! with TARGET http, the `http` target with headers and tokens).
//! Run inside testrealm: fuzz_seeds DIR [COUNT [TARGET]]

fn main() {
    let mut args = std::env::args().skip(1);
    let dir =
        std::path::PathBuf::from(args.next().expect("usage: fuzz_seeds DIR [COUNT [TARGET]]"));
    let count: usize = args
        .next()
        .map_or(4, |n| n.parse().expect("COUNT is a number"));
    std::fs::create_dir_all(&dir).expect("create the seed directory");
    if args.next().as_deref() == Some("http") {
        for (i, seed) in kerbsasl::testing::fuzz::genuine_http_seeds()
            .iter()
            .enumerate()
        {
            std::fs::write(dir.join(format!("genuine-{i}")), seed).expect("write a seed");
        }
        return;
    }
    for i in 0..count {
        let token = kerbsasl::testing::fuzz::genuine_token(i % 2 == 0);
        std::fs::write(dir.join(format!("genuine-{i}")), token).expect("write a seed");
    }
}
