//! How long to wait before trying again, for task retries and webhook deliveries alike:
//! `base × 2^(retry−1)`, capped, with jitter (between half and all of it) so that things
//! failing together do not retry together.

use std::time::Duration;

/// The wait before retry number `retry` (1 for the first retry).
pub fn jittered(base: Duration, retry: u32, cap: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << retry.saturating_sub(1).min(20));
    exp.min(cap).mul_f64(0.5 + fastrand::f64() * 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_is_capped() {
        let base = Duration::from_secs(30);
        let cap = Duration::from_secs(600);
        for _ in 0..20 {
            let first = jittered(base, 1, cap);
            assert!(first >= Duration::from_secs(15) && first <= base);
            let third = jittered(base, 3, cap);
            assert!(third >= Duration::from_secs(60) && third <= Duration::from_secs(120));
            assert!(jittered(base, 30, cap) <= cap);
        }
    }
}
