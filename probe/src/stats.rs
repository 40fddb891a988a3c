//! Round-trip statistics in the seed's `[min, avg, max, stddev]` form.

use std::time::Duration;

use netcore::RttStats;

/// `[min, avg, max, stddev]` in milliseconds of `samples` (population standard
/// deviation); all zero when there is none.
pub(crate) fn rtt_stats(samples: &[Duration]) -> RttStats {
    if samples.is_empty() {
        return [0.0; 4];
    }
    let ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    let n = ms.len() as f64;
    let min = ms.iter().copied().fold(f64::INFINITY, f64::min);
    let max = ms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let avg = ms.iter().sum::<f64>() / n;
    let variance = ms.iter().map(|x| (x - avg).powi(2)).sum::<f64>() / n;
    [min, avg, max, variance.sqrt()]
}

/// Lost probes in percent of `sent`, rounded to the nearest integer, 0 to 100.
pub(crate) fn loss_rate(sent: u32, answered: u32) -> u8 {
    if sent == 0 {
        return 100;
    }
    let lost = sent.saturating_sub(answered);
    let percent = (u64::from(lost) * 100 + u64::from(sent) / 2) / u64::from(sent);
    u8::try_from(percent.min(100)).unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_known_samples() {
        let samples = [2, 4, 4, 4, 5, 5, 7, 9].map(Duration::from_millis);
        let [min, avg, max, sd] = rtt_stats(&samples);
        assert_eq!((min, avg, max), (2.0, 5.0, 9.0));
        assert!((sd - 2.0).abs() < 1e-9);
        assert_eq!(rtt_stats(&[]), [0.0; 4]);
    }

    #[test]
    fn loss_rates() {
        assert_eq!(loss_rate(10, 10), 0);
        assert_eq!(loss_rate(10, 7), 30);
        assert_eq!(loss_rate(3, 1), 67);
        assert_eq!(loss_rate(5, 0), 100);
        assert_eq!(loss_rate(0, 0), 100);
    }
}
