//! Times population generation (used to profile start-up).
fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let t = std::time::Instant::now();
    let m = cambrian_hubsim::population::generate(n, 1).unwrap();
    eprintln!("generate {n}: {:?} ({} models)", t.elapsed(), m.len());
}
