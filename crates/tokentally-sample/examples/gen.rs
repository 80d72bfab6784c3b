#![allow(clippy::print_stderr, clippy::unwrap_used)]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let calls = args.get(1).map(|s| s.parse().unwrap()).unwrap_or(6000);
    let seed = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(42);
    let cfg = tokentally_sample::SampleConfig { calls, seed, ..Default::default() };
    let t = std::time::Instant::now();
    let f = std::fs::File::create("/tmp/sample.jsonl").unwrap();
    let mut w = std::io::BufWriter::new(f);
    let stats = tokentally_sample::generate(&cfg, &mut w).unwrap();
    eprintln!("{:?}", t.elapsed());
    eprintln!("{:#?}", stats);
}
