//! Downloading a PAC script over `http`, `https` or `file`, bounded in size and time.

use std::time::Duration;

use netcore::{Error, Result};
use tokio::io::AsyncReadExt;

/// Bounds and trust of one download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOptions {
    /// The largest script accepted, in bytes. Default 1 MiB.
    pub max_bytes: usize,
    /// The time the whole download may take. Default 10 s.
    pub timeout: Duration,
    /// For `https`: trust only these root certificates (DER), e.g. a corporate CA,
    /// instead of Mozilla's root program (`None`, the default).
    pub root_certificates_der: Option<Vec<Vec<u8>>>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            max_bytes: 1 << 20,
            timeout: Duration::from_secs(10),
            root_certificates_der: None,
        }
    }
}

fn fetch_error(url: &str, why: impl std::fmt::Display) -> Error {
    Error::Service(format!("fetching the PAC script {url:?}: {why}"))
}

/// Downloads the script at `url`. Any failure (unsupported scheme, unreachable server,
/// HTTP error status, over `max_bytes`, over `timeout`, not UTF-8) is 2100002, the
/// seed's code for a PAC URL that cannot be used.
pub async fn fetch_script(url: &str, options: &FetchOptions) -> Result<String> {
    let trimmed = url.trim();
    let scheme = trimmed
        .split_once("://")
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    let bytes = match scheme.as_deref() {
        Some("file") => {
            let path = &trimmed["file://".len()..];
            tokio::time::timeout(options.timeout, read_file(path, options.max_bytes))
                .await
                .map_err(|_| fetch_error(url, "timed out"))?
                .map_err(|why| fetch_error(url, why))?
        }
        Some("http") | Some("https") => {
            let owned = trimmed.to_owned();
            let options = options.clone();
            tokio::task::spawn_blocking(move || http_get(&owned, &options))
                .await
                .map_err(|e| fetch_error(url, e))?
                .map_err(|why| fetch_error(url, why))?
        }
        _ => {
            return Err(fetch_error(
                url,
                "only http, https and file URLs are supported",
            ));
        }
    };
    String::from_utf8(bytes).map_err(|_| fetch_error(url, "the script is not UTF-8"))
}

async fn read_file(path: &str, max_bytes: usize) -> std::result::Result<Vec<u8>, String> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(max_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| e.to_string())?;
    if bytes.len() > max_bytes {
        return Err(format!("the script is larger than {max_bytes} bytes"));
    }
    Ok(bytes)
}

fn http_get(url: &str, options: &FetchOptions) -> std::result::Result<Vec<u8>, String> {
    let roots = match &options.root_certificates_der {
        Some(certificates) => ureq::tls::RootCerts::new_with_certs(
            &certificates
                .iter()
                .map(|der| ureq::tls::Certificate::from_der(der).to_owned())
                .collect::<Vec<_>>(),
        ),
        None => ureq::tls::RootCerts::WebPki,
    };
    let tls = ureq::tls::TlsConfig::builder().root_certs(roots).build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_global(Some(options.timeout))
        .proxy(None)
        .max_redirects(5)
        .http_status_as_error(true)
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
    response
        .body_mut()
        .with_config()
        .limit(options.max_bytes as u64)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => {
                format!("the script is larger than {} bytes", options.max_bytes)
            }
            other => other.to_string(),
        })
}
