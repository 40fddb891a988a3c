//! The seed's HTTP proxy and PAC functions on [`NetManager`].

use netcore::{HttpProxy, Result};
use netcore_proxy::PacResult;

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
            }
        }
        Ok(())
    }

    /// `getDefaultHttpProxy`: this app's proxy when set, else the global one; `None`
    /// when there is neither. Errors: none from an embedded runtime.
    pub async fn get_default_http_proxy(&self) -> Result<Option<HttpProxy>> {
        match &self.backend {
            Backend::Embedded(runtime) => {
                Ok(runtime.proxies().default_http_proxy(self.app).cloned())
            }
        }
    }

    /// Sets (or clears) the global proxy, for system settings; apps use
    /// [`NetManager::set_app_http_proxy`]. Errors: 2100001 (invalid proxy).
    pub async fn set_global_http_proxy(&self, proxy: Option<HttpProxy>) -> Result<()> {
        match &self.backend {
            Backend::Embedded(runtime) => {
                runtime.proxies().set_global_http_proxy(proxy)?;
                runtime.proxy_changed();
            }
        }
        Ok(())
    }

    /// The proxy this app's request to `url` goes through (its own or the global,
    /// unless the exclusion list matches the URL's host); `None` for a direct
    /// connection.
    pub async fn http_proxy_for_url(&self, url: &str) -> Result<Option<HttpProxy>> {
        match &self.backend {
            Backend::Embedded(runtime) => {
                Ok(runtime.proxies().proxy_for_url(self.app, url).cloned())
            }
        }
    }

    /// `setPacFileUrl`: fetches the PAC script at `url` (http, https or file; size
    /// and time capped) and enables it for [`NetManager::find_proxy_for_url`]. A
    /// script that cannot be fetched or loaded is 2100002 and the previous one stays.
    /// Errors: 2100002.
    pub async fn set_pac_file_url(&self, url: &str) -> Result<()> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.pac().set_pac_file_url(url).await,
        }
    }

    /// `getPacFileUrl`: the enabled script's URL, or "" when none. Errors: none from
    /// an embedded runtime.
    pub async fn get_pac_file_url(&self) -> Result<String> {
        match &self.backend {
            Backend::Embedded(runtime) => Ok(runtime.pac().pac_file_url()),
        }
    }

    /// `findProxyForUrl`: the PAC script's answer for `url` (for example
    /// `PROXY proxy.example:8080; DIRECT`), or "" when no script is set. The script
    /// runs in a sandboxed worker with a deadline; https URLs reach it as
    /// `scheme://host:port/`. Errors: 2100002 (the script failed or overran), 2100003.
    pub async fn find_proxy_for_url(&self, url: &str) -> Result<String> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.pac().find_proxy_for_url(url).await,
        }
    }

    /// The PAC script's answer for `url` as typed entries; `None` without a script.
    pub async fn find_proxy_entries(&self, url: &str) -> Result<Option<PacResult>> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.pac().find_proxy_entries(url).await,
        }
    }

    /// `setPacUrl`: stores the system PAC URL without fetching or enabling it (seed).
    /// Errors: 2100001 (a URL over 8 KiB).
    pub async fn set_pac_url(&self, url: &str) -> Result<()> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.pac().set_pac_url(url),
        }
    }

    /// `getPacUrl`: the stored system PAC URL; 2100003 when none is set (seed).
    pub async fn get_pac_url(&self) -> Result<String> {
        match &self.backend {
            Backend::Embedded(runtime) => runtime.pac().pac_url(),
        }
    }
}
