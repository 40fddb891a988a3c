//! One connectivity check: the HTTPS and HTTP probes in parallel and what they mean.

use std::pin::pin;

use netcore::engine::ValidationResult;
use netcore::{Error, Result};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::RootCertStore;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use url::Url;

use crate::config::ValidatorConfig;
use crate::http::{self, FetchError, HttpAnswer};
use crate::target::NetworkTarget;

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ProbeOutcome {
    /// 204.
    NoContent,
    /// A captive portal at this URL.
    Portal(String),
    /// Any other answer, or none.
    Nothing,
}

/// Runs connectivity checks; cheap to share (`Clone` is cheap too).
#[derive(Clone)]
pub struct Validator {
    config: ValidatorConfig,
    http_url: Url,
    https_url: Url,
    tls: TlsConnector,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("config", &self.config)
            .finish()
    }
}

impl Validator {
    /// A validator for `config`. Fails with 2100001 when a URL does not parse or has
    /// the wrong scheme (`http_url` must be http, `https_url` https), a timeout is 0,
    /// `max_header_bytes` is below 64 or an extra root certificate is not valid PEM,
    /// and with 2100003 when TLS cannot be set up.
    pub fn new(config: ValidatorConfig) -> Result<Self> {
        let http_url = probe_url(&config.http_url, "http")?;
        let https_url = probe_url(&config.https_url, "https")?;
        if config.first_result_timeout_ms == 0
            || config.overall_timeout_ms == 0
            || config.connect_timeout_ms == 0
        {
            return Err(Error::invalid("validation timeouts must be above 0 ms"));
        }
        if config.max_header_bytes < 64 {
            return Err(Error::invalid(format!(
                "maxHeaderBytes {} is below 64",
                config.max_header_bytes
            )));
        }
        let mut roots = RootCertStore::empty();
        if config.use_webpki_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for pem in &config.extra_root_certs_pem {
            let mut found = false;
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert =
                    cert.map_err(|e| Error::invalid(format!("extra root certificate: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| Error::invalid(format!("extra root certificate: {e}")))?;
                found = true;
            }
            if !found {
                return Err(Error::invalid(
                    "an extra root certificate holds no certificate",
                ));
            }
        }
        let tls = http::tls_connector(roots)?;
        Ok(Self {
            config,
            http_url,
            https_url,
            tls,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ValidatorConfig {
        &self.config
    }

    /// Runs one check of `target` and says what it found. Returns at once on a
    /// decisive answer (HTTPS 204, or an HTTP portal); an HTTP 204 alone is returned as
    /// `Partial` once [`ValidatorConfig::first_result_timeout`] has passed without the
    /// HTTPS probe succeeding; nothing runs beyond
    /// [`ValidatorConfig::overall_timeout`]. Dropping the future stops both probes.
    pub async fn validate(&self, target: &NetworkTarget) -> ValidationResult {
        let max = self.config.max_header_bytes;
        let connect = self.config.connect_timeout();
        let https = async {
            let answer = http::fetch(&self.https_url, target, Some(&self.tls), max, connect).await;
            meaning(&self.https_url, answer, "https")
        };
        let plain = async {
            let answer = http::fetch(&self.http_url, target, None, max, connect).await;
            meaning(&self.http_url, answer, "http")
        };
        let mut https = pin!(futures::FutureExt::fuse(https));
        let mut plain = pin!(futures::FutureExt::fuse(plain));
        let mut first = pin!(tokio::time::sleep(self.config.first_result_timeout()));
        let mut overall = pin!(tokio::time::sleep(self.config.overall_timeout()));
        let mut https_outcome = None;
        let mut http_outcome = None;
        let mut first_passed = false;
        loop {
            tokio::select! {
                outcome = &mut https, if https_outcome.is_none() => {
                    if outcome == ProbeOutcome::NoContent {
                        return ValidationResult::Validated;
                    }
                    https_outcome = Some(outcome);
                }
                outcome = &mut plain, if http_outcome.is_none() => {
                    if let ProbeOutcome::Portal(url) = outcome {
                        return ValidationResult::Portal { url };
                    }
                    http_outcome = Some(outcome);
                }
                () = &mut first, if !first_passed => first_passed = true,
                () = &mut overall => {
                    tracing::debug!(interface = %target.interface, "validation timed out");
                    break;
                }
            }
            let both_done = https_outcome.is_some() && http_outcome.is_some();
            let partial_ready = first_passed && http_outcome == Some(ProbeOutcome::NoContent);
            if both_done || partial_ready {
                break;
            }
        }
        if http_outcome == Some(ProbeOutcome::NoContent) {
            ValidationResult::Partial
        } else {
            ValidationResult::Failed
        }
    }
}

/// What a probe's answer means.
fn meaning(
    url: &Url,
    answer: std::result::Result<HttpAnswer, FetchError>,
    which: &str,
) -> ProbeOutcome {
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => {
            tracing::debug!(%url, error = %e, "{which} probe got no answer");
            return ProbeOutcome::Nothing;
        }
    };
    tracing::debug!(%url, status = answer.status, location = ?answer.location, "{which} probe answered");
    match answer {
        HttpAnswer { status: 204, .. } => ProbeOutcome::NoContent,
        HttpAnswer {
            status: 300..=399,
            location: Some(location),
            ..
        } => ProbeOutcome::Portal(location),
        HttpAnswer {
            status: 200..=399,
            has_body: true,
            ..
        } => ProbeOutcome::Portal(url.to_string()),
        _ => ProbeOutcome::Nothing,
    }
}

fn probe_url(text: &str, scheme: &str) -> Result<Url> {
    let url = Url::parse(text).map_err(|e| Error::invalid(format!("probe URL {text:?}: {e}")))?;
    if url.scheme() != scheme || url.host_str().is_none() {
        return Err(Error::invalid(format!(
            "probe URL {text:?} must be {scheme}://HOST/..."
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("http://probe.test/generate_204").unwrap()
    }

    fn answered(status: u16, location: Option<&str>, has_body: bool) -> ProbeOutcome {
        let answer = HttpAnswer {
            status,
            location: location.map(str::to_owned),
            has_body,
        };
        meaning(&url(), Ok(answer), "test")
    }

    #[test]
    fn answers_mean_what_the_design_says() {
        assert_eq!(answered(204, None, false), ProbeOutcome::NoContent);
        assert_eq!(
            answered(302, Some("http://portal.test/"), false),
            ProbeOutcome::Portal("http://portal.test/".into())
        );
        assert_eq!(
            answered(200, None, true),
            ProbeOutcome::Portal(url().to_string())
        );
        assert_eq!(answered(200, None, false), ProbeOutcome::Nothing);
        assert_eq!(answered(302, None, false), ProbeOutcome::Nothing);
        assert_eq!(answered(500, None, true), ProbeOutcome::Nothing);
        assert_eq!(
            answered(404, Some("http://x.test/"), true),
            ProbeOutcome::Nothing
        );
    }

    #[test]
    fn bad_configurations_are_2100001() {
        let bad = [
            ValidatorConfig {
                http_url: "https://x.test/".into(),
                ..Default::default()
            },
            ValidatorConfig {
                https_url: "not a url".into(),
                ..Default::default()
            },
            ValidatorConfig {
                overall_timeout_ms: 0,
                ..Default::default()
            },
            ValidatorConfig {
                connect_timeout_ms: 0,
                ..Default::default()
            },
            ValidatorConfig {
                max_header_bytes: 10,
                ..Default::default()
            },
            ValidatorConfig {
                extra_root_certs_pem: vec!["no pem here".into()],
                ..Default::default()
            },
        ];
        for config in bad {
            assert_eq!(
                Validator::new(config.clone()).unwrap_err().code(),
                2100001,
                "{config:?}"
            );
        }
        assert!(Validator::new(ValidatorConfig::default()).is_ok());
    }

    #[test]
    fn config_defaults_from_empty_json() {
        let config: ValidatorConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, ValidatorConfig::default());
        assert_eq!(config.first_result_timeout().as_secs(), 3);
        assert_eq!(config.overall_timeout().as_secs(), 10);
    }
}
