//! Network selection: which of several candidate networks serves a request.
//!
//! Ordered filters, each applied only while more than one candidate remains:
//! 1. validated beats not validated;
//! 2. not poor beats poor (quality below the threshold, with hysteresis);
//! 3. bearer priority from the device profile;
//! 4. quality, where the current network keeps its place unless another beats it by
//!    the hysteresis margin;
//! 5. the current network;
//! 6. the oldest network (lowest netId), so that the outcome never depends on order.
//!
//! Which networks are candidates at all (INTERNET and not a VPN for the default
//! network, the specifier for a request) is decided by the caller.

use crate::model::{NetBearType, NetHandle};

use super::types::EngineConfig;

/// What selection needs to know of a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub handle: NetHandle,
    pub bearer_type: NetBearType,
    pub validated: bool,
    /// Quality in percent, when the bearer knows it. Unknown is never poor, and
    /// counts as 0 in the quality tie-break.
    pub quality: Option<u8>,
}

/// The best of `candidates`, given the currently selected network `current`.
pub(crate) fn select(
    config: &EngineConfig,
    candidates: &[Candidate],
    current: Option<NetHandle>,
) -> Option<NetHandle> {
    match candidates {
        [] => return None,
        [only] => return Some(only.handle),
        _ => {}
    }
    let mut left: Vec<Candidate> = candidates.to_vec();
    let is_current = |c: &Candidate| Some(c.handle) == current;

    keep_if_any(&mut left, |c| c.validated);

    let poor = |c: &Candidate| {
        let margin = if is_current(c) {
            0
        } else {
            config.quality_hysteresis
        };
        c.quality
            .is_some_and(|q| u16::from(q) < u16::from(config.poor_quality) + u16::from(margin))
    };
    keep_if_any(&mut left, |c| !poor(c));

    if let Some(best) = left
        .iter()
        .map(|c| config.profile.rank(c.bearer_type))
        .min()
    {
        left.retain(|c| config.profile.rank(c.bearer_type) == best);
    }

    let quality = |c: &Candidate| u16::from(c.quality.unwrap_or(0));
    let best_quality = left.iter().map(quality).max().unwrap_or(0);
    if let Some(cur) = left.iter().find(|c| is_current(c))
        && quality(cur) + u16::from(config.quality_hysteresis) > best_quality
    {
        return Some(cur.handle);
    }
    left.retain(|c| quality(c) == best_quality);

    left.iter().map(|c| c.handle).min()
}

/// Keeps the candidates for which `wanted` holds, unless none does.
fn keep_if_any(left: &mut Vec<Candidate>, wanted: impl Fn(&Candidate) -> bool) {
    if left.len() > 1 && left.iter().any(&wanted) {
        left.retain(wanted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::DeviceProfile;

    fn net(id: i64, bearer_type: NetBearType, validated: bool, quality: u8) -> Candidate {
        Candidate {
            handle: NetHandle::new(id).unwrap(),
            bearer_type,
            validated,
            quality: Some(quality),
        }
    }

    fn unknown_quality(id: i64, bearer_type: NetBearType) -> Candidate {
        Candidate {
            quality: None,
            ..net(id, bearer_type, true, 0)
        }
    }

    fn pick(candidates: &[Candidate], current: Option<i64>) -> i64 {
        let current = current.map(|id| NetHandle::new(id).unwrap());
        let picked = select(&EngineConfig::default(), candidates, current);
        picked.map_or(0, |h| i64::from(h.net_id()))
    }

    use NetBearType::*;

    #[test]
    fn validated_beats_bearer_priority() {
        let c = [net(100, Ethernet, false, 50), net(101, Cellular, true, 50)];
        assert_eq!(pick(&c, None), 101);
    }

    #[test]
    fn bearer_priority_among_validated() {
        let c = [
            net(100, Cellular, true, 90),
            net(101, Wifi, true, 50),
            net(102, Bluetooth, true, 50),
        ];
        assert_eq!(pick(&c, None), 101);
        let c = [unknown_quality(100, Ethernet), net(101, Wifi, true, 100)];
        assert_eq!(pick(&c, Some(101)), 100, "unknown quality is not poor");
        let c = [net(100, Ethernet, true, 5), net(101, Wifi, true, 100)];
        assert_eq!(pick(&c, Some(100)), 101, "a reported 5% is poor");
    }

    #[test]
    fn watch_profile_prefers_bluetooth() {
        let config = EngineConfig {
            profile: DeviceProfile::watch(),
            ..EngineConfig::default()
        };
        let c = [net(100, Wifi, true, 80), net(101, Bluetooth, true, 80)];
        assert_eq!(select(&config, &c, None), NetHandle::new(101).ok());
    }

    #[test]
    fn poor_network_loses_to_a_lower_priority_one() {
        let c = [net(100, Wifi, true, 10), net(101, Cellular, true, 60)];
        assert_eq!(pick(&c, Some(100)), 101);
    }

    #[test]
    fn poor_threshold_has_hysteresis() {
        // Wi-Fi at 25 is not poor while it is current (threshold 20)...
        let c = [net(100, Wifi, true, 25), net(101, Cellular, true, 60)];
        assert_eq!(pick(&c, Some(100)), 100);
        // ...but a Wi-Fi at 25 does not take over from cellular (needs 30).
        assert_eq!(pick(&c, Some(101)), 101);
        let c = [net(100, Wifi, true, 31), net(101, Cellular, true, 60)];
        assert_eq!(pick(&c, Some(101)), 100);
    }

    #[test]
    fn quality_tie_break_has_hysteresis() {
        let c = [net(100, Ethernet, true, 60), net(101, Ethernet, true, 65)];
        assert_eq!(pick(&c, Some(100)), 100, "5 points is not enough");
        let c = [net(100, Ethernet, true, 60), net(101, Ethernet, true, 70)];
        assert_eq!(pick(&c, Some(100)), 101, "10 points is enough");
        assert_eq!(pick(&c, None), 101);
    }

    #[test]
    fn equal_networks_keep_current_else_oldest() {
        let c = [net(101, Ethernet, true, 50), net(100, Ethernet, true, 50)];
        assert_eq!(pick(&c, Some(101)), 101);
        assert_eq!(pick(&c, None), 100);
    }

    #[test]
    fn none_without_candidates() {
        assert_eq!(pick(&[], None), 0);
    }
}
