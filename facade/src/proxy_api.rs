//! The seed's HTTP proxy and PAC functions on [`NetManager`].

use netcore::{HttpProxy, Result};
use netcore_proxy::PacResult;

use crate::manager::NetManager;

impl NetManager {
    fn proxies(&self) -> std::sync::MutexGuard<'_, netcore_proxy::ProxySettings> {
        self.shared
            .proxies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// `setAppHttpProxy`: this app's proxy, used instead of the global one. The
    /// proxy is not checked for reachability. Errors: 401, 2100001 ("Invalid http
    /// proxy": empty host).
    pub async fn set_app_http_proxy(&self, proxy: HttpProxy) -> Result<()> {
        let key = self.app;
        self.proxies().set_app_http_proxy(key, proxy)?;
        self.proxy_changed();
        Ok(())
    }

    /// `getDefaultHttpProxy`: this app's proxy when set, else the global one; `None`
    /// when there is neither. Errors: 2100002, 2100003.
    pub async fn get_default_http_proxy(&self) -> Result<Option<HttpProxy>> {
        let key = self.app;
        Ok(self.proxies().default_http_proxy(key).cloned())
    }

    /// Sets (or clears) the global proxy, for system settings; apps use
    /// [`NetManager::set_app_http_proxy`]. Errors: 2100001 (invalid proxy).
    pub async fn set_global_http_proxy(&self, proxy: Option<HttpProxy>) -> Result<()> {
        self.proxies().set_global_http_proxy(proxy)?;
        self.proxy_changed();
        Ok(())
    }

    fn proxy_changed(&self) {
        self.shared
            .proxy_changes
            .send_modify(|changes| *changes += 1);
    }

    /// The proxy this app's request to `url` goes through (its own or the global,
    /// unless the exclusion list matches the URL's host); `None` for a direct
    /// connection.
    pub async fn http_proxy_for_url(&self, url: &str) -> Result<Option<HttpProxy>> {
        let key = self.app;
        Ok(self.proxies().proxy_for_url(key, url).cloned())
    }

    /// `setPacFileUrl`: fetches the PAC script at `url` (http, https or file; size
    /// and time capped) and enables it for [`NetManager::find_proxy_for_url`]. A
    /// script that cannot be fetched or loaded is 2100002 and the previous one stays.
    /// Errors: 201, 2100002.
    pub async fn set_pac_file_url(&self, url: &str) -> Result<()> {
        self.shared.pac.set_pac_file_url(url).await
    }

    /// `getPacFileUrl`: the enabled script's URL, or "" when none. Errors: 2100002.
    pub async fn get_pac_file_url(&self) -> Result<String> {
        Ok(self.shared.pac.pac_file_url())
    }

    /// `findProxyForUrl`: the PAC script's answer for `url` (for example
    /// `PROXY proxy.example:8080; DIRECT`), or "" when no script is set. The script
    /// runs in a sandboxed worker with a deadline; https URLs reach it as
    /// `scheme://host:port/`. Errors: 2100002 (the script failed or overran), 2100003.
    pub async fn find_proxy_for_url(&self, url: &str) -> Result<String> {
        self.shared.pac.find_proxy_for_url(url).await
    }

    /// The PAC script's answer for `url` as typed entries; `None` without a script.
    pub async fn find_proxy_entries(&self, url: &str) -> Result<Option<PacResult>> {
        self.shared.pac.find_proxy_entries(url).await
    }

    /// `setPacUrl`: stores the system PAC URL without fetching or enabling it (seed).
    /// Errors: 201, 401 (empty URL), 2100002, 2100003.
    pub async fn set_pac_url(&self, url: &str) -> Result<()> {
        self.shared.pac.set_pac_url(url)
    }

    /// `getPacUrl`: the stored system PAC URL; 2100003 when none is set (seed).
    pub async fn get_pac_url(&self) -> Result<String> {
        self.shared.pac.pac_url()
    }
}
