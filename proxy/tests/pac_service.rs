//! The seed's PAC functions end to end: scripts served by a real HTTP server on
//! loopback (started here) and from files, the size cap, and the stored-only PAC URL.

mod common;

use std::time::Duration;

use netcore_proxy::PacService;
use netcore_proxy::pac::fetch::FetchOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SCRIPT: &str = r#"function FindProxyForURL(url, host) {
  if (dnsDomainIs(host, ".corp")) return "DIRECT";
  return "PROXY proxy.corp:3128; DIRECT";
}"#;

/// A minimal HTTP/1.1 server on 127.0.0.1 serving `/proxy.pac`, `/big.pac` (over
/// 1 MiB), `/slow.pac` (never answers) and 404 for anything else.
async fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&request)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned();
                let path = line.split(' ').nth(1).unwrap_or("").to_owned();
                let (status, body) = match path.as_str() {
                    "/proxy.pac" => ("200 OK", SCRIPT.to_owned()),
                    "/big.pac" => ("200 OK", format!("{SCRIPT}\n//{}", "x".repeat(1 << 20))),
                    "/slow.pac" => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                    _ => ("404 Not Found", "not here".to_owned()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/x-ns-proxy-autoconfig\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(body.as_bytes()).await;
            });
        }
    });
    format!("http://{address}")
}

fn service() -> PacService {
    let (evaluator, _) = common::evaluator();
    PacService::new(
        evaluator,
        FetchOptions {
            max_bytes: 1 << 20,
            timeout: Duration::from_secs(2),
            root_certificates_der: None,
        },
    )
}

#[tokio::test]
async fn script_served_over_http_on_loopback() {
    let base = serve().await;
    let pac = service();
    assert_eq!(pac.pac_file_url(), "");
    assert_eq!(
        pac.find_proxy_for_url("http://www.example.com/")
            .await
            .unwrap(),
        ""
    );

    let url = format!("{base}/proxy.pac");
    pac.set_pac_file_url(&url).await.unwrap();
    assert_eq!(pac.pac_file_url(), url);
    assert_eq!(
        pac.find_proxy_for_url("http://www.example.com/")
            .await
            .unwrap(),
        "PROXY proxy.corp:3128; DIRECT"
    );
    assert_eq!(
        pac.find_proxy_for_url("https://www.intranet.corp/x")
            .await
            .unwrap(),
        "DIRECT"
    );

    // Failures are 2100002 and keep the script in use.
    for bad in [
        format!("{base}/missing.pac"),
        format!("{base}/big.pac"),
        format!("{base}/slow.pac"),
        "http://127.0.0.1:1/proxy.pac".to_owned(),
        // TLS to a plain-HTTP server fails the handshake.
        format!("{}/proxy.pac", base.replace("http://", "https://")),
        "ftp://127.0.0.1/proxy.pac".to_owned(),
        "not a url".to_owned(),
    ] {
        let error = pac.set_pac_file_url(&bad).await.unwrap_err();
        assert_eq!(error.code(), 2_100_002, "{bad}: {error}");
        assert_eq!(pac.pac_file_url(), url, "{bad}");
    }
    let error = pac
        .set_pac_file_url(&format!("{base}/big.pac"))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("larger than 1048576 bytes"),
        "{error}"
    );
    assert_eq!(
        pac.find_proxy_for_url("http://www.example.com/")
            .await
            .unwrap(),
        "PROXY proxy.corp:3128; DIRECT"
    );

    pac.clear_pac_file_url().await;
    assert_eq!(pac.pac_file_url(), "");
    assert_eq!(
        pac.find_proxy_for_url("http://www.example.com/")
            .await
            .unwrap(),
        ""
    );
}

#[tokio::test]
async fn script_from_a_file_and_the_file_size_cap() {
    let dir = std::env::temp_dir().join(format!("netcore-proxy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let small = dir.join("proxy.pac");
    let big = dir.join("big.pac");
    std::fs::write(&small, SCRIPT).unwrap();
    std::fs::write(&big, "x".repeat((1 << 20) + 1)).unwrap();
    let pac = service();
    pac.set_pac_file_url(&format!("file://{}", small.display()))
        .await
        .unwrap();
    assert_eq!(
        pac.find_proxy_for_url("http://a.corp/").await.unwrap(),
        "DIRECT"
    );
    let error = pac
        .set_pac_file_url(&format!("file://{}", big.display()))
        .await
        .unwrap_err();
    assert_eq!(error.code(), 2_100_002);
    let error = pac
        .set_pac_file_url(&format!("file://{}", dir.join("none").display()))
        .await
        .unwrap_err();
    assert_eq!(error.code(), 2_100_002);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn pac_url_is_only_stored() {
    let pac = service();
    assert_eq!(pac.pac_url().unwrap_err().code(), 2_100_003);
    pac.set_pac_url("http://127.0.0.1:9/never-fetched.pac")
        .unwrap();
    assert_eq!(
        pac.pac_url().unwrap(),
        "http://127.0.0.1:9/never-fetched.pac"
    );
    // Storing the URL enables nothing.
    assert_eq!(pac.pac_file_url(), "");
    assert_eq!(pac.find_proxy_for_url("http://a/").await.unwrap(), "");
    assert_eq!(
        pac.set_pac_url(&"x".repeat(9000)).unwrap_err().code(),
        2_100_001
    );
}
