//! The seed's HTTP proxy and PAC functions on [`NetManager`].

use netcore::{HttpProxy, Result};
use netcore_proxy::PacResult;

use netcore_bus::{from_json, to_json};

use crate::bus::Reply;
use crate::manager::{Backend, NetManager};

impl NetManager {
    /// `setAppHttpProxy`: this app's proxy, used instead of the global one. The
    /// proxy is not checked for reachability. Errors: 401, 2100001 ("Invalid http
    /// proxy": empty host).
    pub async fn set_app_http_proxy(&self, proxy: HttpProxy) -> Result<()> {
        match &self.backend {
            Backend::Embedded(runtime) => {
                runtime.proxies().set_app_http_proxy(self.app, proxy)?;
                runtime.proxy_changed();
                Ok(())
            }
            Backend::Bus(bus) => bus.acting_for(self.app)?.set_app_http_proxy(proxy).await,
        }
    }

    /// `getDefaultHttpProxy`: this app's proxy when set, else the global one; `None`
    /// when there is neither. Errors: none from an embedded runtime.
    pub async fn get_default_http_proxy(&self) -> Result<Option<HttpProxy>> {
        match &self.backend {
            Backend::Embedded(runtime) => {
                Ok(runtime.proxies().default_http_proxy(self.app).cloned())
            }
            Backend::Bus(bus) => {
                let json = bus
                    .acting_for(self.app)?
                    .proxy()
                    .get_default_http_proxy()
                    .await
                    .reply()?;
                optional_proxy(&json)
            }
        }
    }

    /// Sets (or clears) the global proxy, for system settings (netcored's
    /// MANAGE_SETTINGS); apps use [`NetManager::set_app_http_proxy`]. Errors: 2100001
    /// (invalid proxy).
    pub async fn set_global_http_proxy(&self, proxy: Option<HttpProxy>) -> Result<()> {
        match &self.backend {
            Backend::Embedded(runtime) => {
                runtime.proxies().set_global_http_proxy(proxy)?;
                runtime.proxy_changed();
                Ok(())
            }
            Backend::Bus(bus) => {
                let json = proxy.as_ref().map(to_json).unwrap_or_default();
                bus.acting_for(self.app)?
                    .proxy()
                    .set_global_http_proxy(&json)
                    .await
                    .reply()
            }
        }
    }

    /// The proxy this app's request to `url` goes through (its own or the global,
    /// unless the exclusion list matches the URL's host); `None` for a direct
    /// connection.
    pub async fn http_proxy_for_url(&self, url: &str) -> Result<Option<HttpProxy>> {
        match &self.backend {
            Backend::Embedded(runtime) => {
                Ok(runtime.proxies().proxy_for_url(self.app, url).cloned())
            }
            Backend::Bus(bus) => {
                let json = bus
                    .acting_for(self.app)?
                    .proxy()
                    .http_proxy_for_url(url)
                    .await
                    .reply()?;
                optional_proxy(&json)
            }
        }
    }

    /// `setPacFileUrl` (SET_PAC_URL): fetches the PAC script at `url` (http, https or file; size
    /// and time capped) and enables it for [`NetManager::find_proxy_for_url`]. A
    /// script that cannot be fetched or loaded is 2100002 and the previous one stays.
    /// Errors: 2100002.
    pub async fn set_pac_file_url(&self, url: &str) -> Result<()> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.pac().set_pac_file_url(url).await,
            Backend::Bus(bus) => bus
                .acting_for(self.app)?
                .proxy()
                .set_pac_file_url(url)
                .await
                .reply(),
        }
    }

    /// `getPacFileUrl`: the enabled script's URL, or "" when none. Errors: none from
    /// an embedded runtime.
    pub async fn get_pac_file_url(&self) -> Result<String> {
        match &self.backend {
            Backend::Embedded(runtime) => Ok(runtime.pac().pac_file_url()),
            Backend::Bus(bus) => bus
                .acting_for(self.app)?
                .proxy()
                .get_pac_file_url()
                .await
                .reply(),
        }
    }

    /// `findProxyForUrl`: the PAC script's answer for `url` (for example
    /// `PROXY proxy.example:8080; DIRECT`), or "" when no script is set. The script
    /// runs in a sandboxed worker with a deadline; https URLs reach it as
    /// `scheme://host:port/`. Errors: 2100002 (the script failed or overran), 2100003.
    pub async fn find_proxy_for_url(&self, url: &str) -> Result<String> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.pac().find_proxy_for_url(url).await,
            Backend::Bus(bus) => bus
                .acting_for(self.app)?
                .proxy()
                .find_proxy_for_url(url)
                .await
                .reply(),
        }
    }

    /// The PAC script's answer for `url` as typed entries; `None` without a script.
    pub async fn find_proxy_entries(&self, url: &str) -> Result<Option<PacResult>> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.pac().find_proxy_entries(url).await,
            Backend::Bus(_) => match self.find_proxy_for_url(url).await?.as_str() {
                "" => Ok(None),
                text => PacResult::parse(text).map(Some),
            },
        }
    }

    /// `setPacUrl` (SET_PAC_URL): stores the system PAC URL without fetching or enabling it (seed).
    /// Errors: 2100001 (a URL over 8 KiB).
    pub async fn set_pac_url(&self, url: &str) -> Result<()> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.pac().set_pac_url(url),
            Backend::Bus(bus) => bus
                .acting_for(self.app)?
                .proxy()
                .set_pac_url(url)
                .await
                .reply(),
        }
    }

    /// `getPacUrl`: the stored system PAC URL; 2100003 when none is set (seed).
    pub async fn get_pac_url(&self) -> Result<String> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.pac().pac_url(),
            Backend::Bus(bus) => bus
                .acting_for(self.app)?
                .proxy()
                .get_pac_url()
                .await
                .reply(),
        }
    }
}

/// A proxy from the daemon: "" for none.
fn optional_proxy(json: &str) -> Result<Option<HttpProxy>> {
    match json {
        "" => Ok(None),
        json => from_json("proxy", json).map(Some),
    }
}
