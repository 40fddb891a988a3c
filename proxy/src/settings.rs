//! HTTP proxy settings: one global default proxy and one proxy per application.

use std::collections::HashMap;

use netcore::{AppId, Error, HttpProxy, Result};

/// Checks a proxy built by hand (its fields are public): the host must not be empty
/// (2100001 "Invalid http proxy"). The port is a `u16`, so always in 0..=65535.
pub fn validate_proxy(proxy: &HttpProxy) -> Result<()> {
    if proxy.host.trim().is_empty() {
        return Err(Error::invalid("invalid http proxy: the host is empty"));
    }
    if proxy
        .host
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::invalid(format!(
            "invalid http proxy: host {:?} has blanks or control characters",
            proxy.host
        )));
    }
    Ok(())
}

/// The global and per-application HTTP proxies.
///
/// [`ProxySettings::default_http_proxy`] answers the seed's `getDefaultHttpProxy`: the
/// application's proxy when it set one (`setAppHttpProxy`), else the global one.
#[derive(Debug, Clone, Default)]
pub struct ProxySettings {
    global: Option<HttpProxy>,
    per_app: HashMap<AppId, HttpProxy>,
}

impl ProxySettings {
    /// Settings with no proxy at all.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (`Some`) or clears (`None`) the global proxy. An invalid proxy is refused
    /// with 2100001 and leaves the settings unchanged.
    pub fn set_global_http_proxy(&mut self, proxy: Option<HttpProxy>) -> Result<()> {
        if let Some(proxy) = &proxy {
            validate_proxy(proxy)?;
        }
        self.global = proxy;
        Ok(())
    }

    /// The global proxy, if set.
    pub fn global_http_proxy(&self) -> Option<&HttpProxy> {
        self.global.as_ref()
    }

    /// Seed `setAppHttpProxy`: sets the proxy of `app`. An invalid proxy is refused with
    /// 2100001 and leaves the settings unchanged.
    pub fn set_app_http_proxy(&mut self, app: AppId, proxy: HttpProxy) -> Result<()> {
        validate_proxy(&proxy)?;
        tracing::debug!(%app, host = %proxy.host, port = proxy.port, "app proxy set");
        self.per_app.insert(app, proxy);
        Ok(())
    }

    /// Removes the proxy of `app`, which then falls back to the global one. Returns the
    /// proxy that was set.
    pub fn clear_app_http_proxy(&mut self, app: AppId) -> Option<HttpProxy> {
        self.per_app.remove(&app)
    }

    /// The proxy `app` set for itself, if any.
    pub fn app_http_proxy(&self, app: AppId) -> Option<&HttpProxy> {
        self.per_app.get(&app)
    }

    /// Seed `getDefaultHttpProxy`: the proxy of `app` when set, else the global proxy,
    /// else `None`.
    pub fn default_http_proxy(&self, app: AppId) -> Option<&HttpProxy> {
        self.per_app.get(&app).or(self.global.as_ref())
    }

    /// Whether `app`'s request to `url` goes through its default proxy: `None` when no
    /// proxy applies (none set, or the URL's host is in the exclusion list), else the
    /// proxy to use.
    pub fn proxy_for_url(&self, app: AppId, url: &str) -> Option<&HttpProxy> {
        self.default_http_proxy(app)
            .filter(|proxy| crate::exclusion::uses_proxy(proxy, url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(host: &str, port: i64) -> HttpProxy {
        HttpProxy::new(host, port, vec![]).unwrap()
    }

    #[test]
    fn app_proxy_wins_over_global() {
        let mut s = ProxySettings::new();
        let app = AppId::from_uid(10_001);
        assert_eq!(s.default_http_proxy(app), None);
        s.set_global_http_proxy(Some(proxy("global.corp", 3128)))
            .unwrap();
        assert_eq!(s.default_http_proxy(app).unwrap().host, "global.corp");
        s.set_app_http_proxy(app, proxy("app.corp", 8080)).unwrap();
        assert_eq!(s.default_http_proxy(app).unwrap().host, "app.corp");
        assert_eq!(
            s.default_http_proxy(AppId::from_uid(1)).unwrap().host,
            "global.corp"
        );
        assert_eq!(s.clear_app_http_proxy(app).unwrap().port, 8080);
        assert_eq!(s.default_http_proxy(app).unwrap().host, "global.corp");
        s.set_global_http_proxy(None).unwrap();
        assert_eq!(s.default_http_proxy(app), None);
    }

    #[test]
    fn invalid_proxies_are_refused_with_2100001() {
        assert_eq!(
            HttpProxy::new("", 80, vec![]).unwrap_err().code(),
            2_100_001
        );
        assert_eq!(
            HttpProxy::new("h", 65_536, vec![]).unwrap_err().code(),
            2_100_001
        );
        assert_eq!(
            HttpProxy::new("h", -1, vec![]).unwrap_err().code(),
            2_100_001
        );
        assert_eq!(proxy("h", 0).port, 0);
        assert_eq!(proxy("h", 65_535).port, 65_535);

        let mut s = ProxySettings::new();
        s.set_app_http_proxy(AppId::from_uid(5), proxy("ok", 1))
            .unwrap();
        let mut bad = proxy("x", 1);
        bad.host = "  ".into();
        assert_eq!(
            s.set_app_http_proxy(AppId::from_uid(5), bad.clone())
                .unwrap_err()
                .code(),
            2_100_001
        );
        assert_eq!(
            s.set_global_http_proxy(Some(bad)).unwrap_err().code(),
            2_100_001
        );
        let mut spaced = proxy("x", 1);
        spaced.host = "a b".into();
        assert_eq!(
            s.set_app_http_proxy(AppId::from_uid(5), spaced)
                .unwrap_err()
                .code(),
            2_100_001
        );
        // The refused proxies left the settings as they were.
        assert_eq!(s.app_http_proxy(AppId::from_uid(5)).unwrap().host, "ok");
        assert_eq!(s.global_http_proxy(), None);
    }

    #[test]
    fn credentials_only_when_both_are_set() {
        let mut p = proxy("h", 1);
        p.username = Some("u".into());
        assert_eq!(p.credentials(), None);
        p.password = Some("p".into());
        assert_eq!(p.credentials(), Some(("u", "p")));
    }

    #[test]
    fn proxy_for_url_applies_the_exclusion_list() {
        let mut s = ProxySettings::new();
        let app = AppId::from_uid(7);
        let p = HttpProxy::new("proxy.corp", 3128, vec!["ample.com".into()]).unwrap();
        s.set_app_http_proxy(app, p).unwrap();
        assert_eq!(s.proxy_for_url(app, "http://www.ample.com/"), None);
        assert_eq!(
            s.proxy_for_url(app, "http://www.example.com/")
                .unwrap()
                .port,
            3128
        );
    }
}
