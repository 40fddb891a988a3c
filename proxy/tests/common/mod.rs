//! Shared pieces of the PAC integration tests: a table resolver and a fixed clock.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::NaiveDate;
use netcore::{Error, FamilyType, NetHandle, Resolve, ResolveFailure, Result};
use netcore_proxy::pac::clock::FixedClock;
use netcore_proxy::{PacConfig, PacEvaluator};

/// Answers from a fixed table; every other name is "not found".
pub struct TableResolver {
    pub table: HashMap<String, Vec<IpAddr>>,
    pub lookups: AtomicUsize,
}

impl TableResolver {
    pub fn new(entries: &[(&str, &[&str])]) -> Self {
        let table = entries
            .iter()
            .map(|(name, addrs)| {
                (
                    name.to_string(),
                    addrs.iter().map(|a| a.parse().unwrap()).collect(),
                )
            })
            .collect();
        Self {
            table,
            lookups: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl Resolve for TableResolver {
    async fn resolve(
        &self,
        _net: NetHandle,
        host: &str,
        family: FamilyType,
    ) -> Result<Vec<IpAddr>> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let found: Vec<IpAddr> = self
            .table
            .get(host)
            .into_iter()
            .flatten()
            .copied()
            .filter(|ip| match family {
                FamilyType::Ipv4 => ip.is_ipv4(),
                FamilyType::Ipv6 => ip.is_ipv6(),
                _ => true,
            })
            .collect();
        if found.is_empty() {
            return Err(Error::Resolve {
                host: host.into(),
                failure: ResolveFailure::NotFound,
            });
        }
        Ok(found)
    }
}

pub fn worker_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_netcore-pac-worker"))
}

pub fn config() -> PacConfig {
    let mut config = PacConfig::default();
    config.worker_path = Some(worker_path());
    config
}

/// Sunday 2026-11-22 23:30:00 GMT, seen from GMT+1: Monday 2026-11-23 00:30:00.
pub fn clock() -> Arc<FixedClock> {
    let utc = NaiveDate::from_ymd_opt(2026, 11, 22)
        .unwrap()
        .and_hms_opt(23, 30, 0)
        .unwrap();
    Arc::new(FixedClock::new(utc, 3600))
}

pub fn resolver() -> Arc<TableResolver> {
    Arc::new(TableResolver::new(&[
        ("intranet.corp", &["10.1.2.3"]),
        ("dual.corp", &["2001:db8::5", "10.9.9.9"]),
        ("v6only.corp", &["2001:db8::6"]),
    ]))
}

pub fn evaluator() -> (PacEvaluator, Arc<TableResolver>) {
    let resolver = resolver();
    let evaluator = PacEvaluator::with_clock(config(), resolver.clone(), clock());
    (evaluator, resolver)
}
