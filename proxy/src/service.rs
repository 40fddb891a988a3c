//! The seed's PAC functions: `setPacFileUrl`, `getPacFileUrl`, `setPacUrl`,
//! `getPacUrl` and `findProxyForUrl`.

use std::sync::Mutex;

use netcore::{Error, Result};

use crate::pac::evaluator::PacEvaluator;
use crate::pac::fetch::{FetchOptions, fetch_script};
use crate::pac::result::PacResult;
use crate::pac::url::MAX_URL_BYTES;

/// The PAC state of the system: the script URL in use (with the script loaded in a
/// [`PacEvaluator`]) and the stored-only PAC URL.
pub struct PacService {
    evaluator: PacEvaluator,
    fetch_options: FetchOptions,
    pac_file_url: Mutex<String>,
    pac_url: Mutex<Option<String>>,
}

impl PacService {
    /// A service with no PAC script, downloading within `fetch_options`.
    pub fn new(evaluator: PacEvaluator, fetch_options: FetchOptions) -> Self {
        Self {
            evaluator,
            fetch_options,
            pac_file_url: Mutex::new(String::new()),
            pac_url: Mutex::new(None),
        }
    }

    /// The evaluator (e.g. to set `myIpAddress`'s addresses).
    pub fn evaluator(&self) -> &PacEvaluator {
        &self.evaluator
    }

    /// Seed `setPacFileUrl`: downloads the script (`http`, `https`, `file`), loads it
    /// and enables PAC. Any failure to fetch or load the script is 2100002 and leaves
    /// the previous script in use.
    pub async fn set_pac_file_url(&self, url: &str) -> Result<()> {
        if url.len() > MAX_URL_BYTES {
            return Err(Error::Service(format!(
                "the PAC URL is longer than {MAX_URL_BYTES} bytes"
            )));
        }
        let script = fetch_script(url, &self.fetch_options).await?;
        self.evaluator
            .load(&script)
            .await
            .map_err(|error| match error {
                Error::InvalidValue(why) => Error::Service(why),
                other => other,
            })?;
        if let Ok(mut current) = self.pac_file_url.lock() {
            *current = url.to_owned();
        }
        tracing::info!(url, bytes = script.len(), "PAC script loaded");
        Ok(())
    }

    /// Seed `getPacFileUrl`: the URL of the script in use, or "" when none is set.
    pub fn pac_file_url(&self) -> String {
        self.pac_file_url
            .lock()
            .map(|url| url.clone())
            .unwrap_or_default()
    }

    /// Stops using the PAC script: [`PacService::find_proxy_for_url`] returns "" again.
    pub async fn clear_pac_file_url(&self) {
        self.evaluator.clear().await;
        if let Ok(mut current) = self.pac_file_url.lock() {
            current.clear();
        }
    }

    /// Seed `setPacUrl`: only stores the URL (neither fetched nor checked, as the seed
    /// says). A URL over 8 KiB is 2100001.
    pub fn set_pac_url(&self, url: &str) -> Result<()> {
        if url.len() > MAX_URL_BYTES {
            return Err(Error::invalid(format!(
                "the PAC URL is longer than {MAX_URL_BYTES} bytes"
            )));
        }
        let mut stored = self
            .pac_url
            .lock()
            .map_err(|_| Error::Internal("PAC URL lock poisoned".into()))?;
        *stored = Some(url.to_owned());
        Ok(())
    }

    /// Seed `getPacUrl`: the stored URL; 2100003 when none was set (as the seed says).
    pub fn pac_url(&self) -> Result<String> {
        self.pac_url
            .lock()
            .ok()
            .and_then(|url| url.clone())
            .ok_or_else(|| Error::Internal("no PAC URL is set".into()))
    }

    /// Seed `findProxyForUrl`: the script's answer for `url` in string form, or "" when
    /// no script is set. See [`PacEvaluator::find_proxy`] for the errors.
    pub async fn find_proxy_for_url(&self, url: &str) -> Result<String> {
        Ok(self
            .find_proxy_entries(url)
            .await?
            .map(|result| result.to_string())
            .unwrap_or_default())
    }

    /// The script's answer for `url` as typed entries, `None` when no script is set.
    pub async fn find_proxy_entries(&self, url: &str) -> Result<Option<PacResult>> {
        self.evaluator.find_proxy(url).await
    }
}
