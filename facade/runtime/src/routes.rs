//! `manage` mode: netcore keeps a default route of its own, through the default
//! network's gateway, at a metric below the usual ones, and moves it when the default
//! network changes. Other routes are left alone; without `manage` nothing is touched.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netcore::ConnectionProperties;
use netcore_link::{LinkClient, Route, RouteSpec};
use tokio::sync::watch;

/// The default routes netcore installs for `properties`: one per family whose
/// network has a default route with a gateway.
fn default_routes(properties: &ConnectionProperties, metric: u32) -> Vec<RouteSpec> {
    let mut specs: Vec<RouteSpec> = Vec::new();
    for route in properties
        .routes
        .iter()
        .filter(|r| r.is_default_route && r.has_gateway)
    {
        let gateway = route.gateway.ip();
        if specs
            .iter()
            .any(|s| s.destination.is_ipv4() == gateway.is_ipv4())
        {
            continue;
        }
        let any = if gateway.is_ipv4() {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        };
        specs.push(RouteSpec {
            gateway: Some(gateway),
            table: Route::MAIN_TABLE,
            metric: Some(metric),
            ..RouteSpec::new(&properties.interface_name, any, 0)
        });
    }
    specs
}

/// Starts the task that programs the default route; set it to the default network's
/// properties (`None`: there is no default network) each time they change. Only the
/// latest matters: it catches up with it, and leaves the routes alone when the
/// default routes they give did not change.
pub(crate) fn spawn(
    runtime: &tokio::runtime::Handle,
    metric: u32,
) -> watch::Sender<Option<ConnectionProperties>> {
    let (tx, mut rx) = watch::channel::<Option<ConnectionProperties>>(None);
    runtime.spawn(async move {
        let client = match LinkClient::connect() {
            Ok(client) => client,
            Err(e) => {
                tracing::error!("manage mode: cannot reach the kernel: {e}");
                return;
            }
        };
        let mut installed: Vec<RouteSpec> = Vec::new();
        while rx.changed().await.is_ok() {
            let wanted: Vec<RouteSpec> = rx
                .borrow_and_update()
                .iter()
                .flat_map(|p| default_routes(p, metric))
                .collect();
            if wanted == installed {
                continue;
            }
            for spec in installed.drain(..) {
                if let Err(e) = client.remove_route(&spec).await {
                    tracing::debug!(?spec, "manage mode: old default route: {e}");
                }
            }
            for spec in wanted {
                match client.add_route(&spec).await {
                    Ok(()) => {
                        tracing::info!(?spec, "manage mode: default route installed");
                        installed.push(spec);
                    }
                    Err(e) => tracing::warn!(?spec, "manage mode: cannot install: {e}"),
                }
            }
        }
    });
    tx
}

#[cfg(test)]
mod tests {
    use super::*;
    use netcore::{LinkAddress, RouteInfo};

    #[test]
    fn one_default_route_per_family_through_the_gateway() {
        let any4 = LinkAddress::new("0.0.0.0".parse().unwrap(), 0).unwrap();
        let any6 = LinkAddress::new("::".parse().unwrap(), 0).unwrap();
        let net = LinkAddress::new("192.0.2.0".parse().unwrap(), 24).unwrap();
        let properties = ConnectionProperties {
            interface_name: "eth0".into(),
            routes: vec![
                RouteInfo::new("eth0", net, None),
                RouteInfo::new("eth0", any4, Some("192.0.2.1".parse().unwrap())),
                RouteInfo::new("eth0", any4, Some("192.0.2.254".parse().unwrap())),
                RouteInfo::new("eth0", any6, Some("fe80::1".parse().unwrap())),
                RouteInfo::new("eth0", any6, None),
            ],
            ..ConnectionProperties::default()
        };
        let specs = default_routes(&properties, 10);
        let summary: Vec<(String, u8, String, Option<u32>)> = specs
            .iter()
            .map(|s| {
                (
                    s.gateway.unwrap().to_string(),
                    s.prefix_len,
                    s.interface.clone(),
                    s.metric,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("192.0.2.1".into(), 0, "eth0".into(), Some(10)),
                ("fe80::1".into(), 0, "eth0".into(), Some(10)),
            ]
        );
        assert!(default_routes(&ConnectionProperties::default(), 10).is_empty());
    }
}
