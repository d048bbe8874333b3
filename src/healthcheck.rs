//! `healthcheck`: asks a local server's `/health/ready` and exits 0 on 200, 1 otherwise, so a
//! container image needs no shell or curl for its HEALTHCHECK. Plain HTTP/1.0 over TCP, 5 s.

use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMIT: Duration = Duration::from_secs(5);

/// The address to probe for a server configured to listen on `host`: a wildcard address is not
/// a destination, so it becomes loopback.
pub fn probe_address(host: Option<&str>, port: u16) -> String {
    match host {
        None | Some("0.0.0.0") | Some("") => format!("127.0.0.1:{port}"),
        Some("::") | Some("[::]") => format!("[::1]:{port}"),
        Some(h) if h.contains(':') && !h.starts_with('[') => format!("[{h}]:{port}"),
        Some(h) => format!("{h}:{port}"),
    }
}

/// GETs `path` from `address`; Ok when the answer is 200.
pub async fn check(address: &str, path: &str) -> anyhow::Result<()> {
    let status = tokio::time::timeout(LIMIT, status_of(address, path))
        .await
        .with_context(|| format!("{address}{path} did not answer within {LIMIT:?}"))??;
    if status != 200 {
        bail!("{address}{path} answered {status}, not 200");
    }
    Ok(())
}

async fn status_of(address: &str, path: &str) -> anyhow::Result<u16> {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .with_context(|| format!("cannot connect to {address}; is the server running there?"))?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .with_context(|| format!("the connection to {address} failed"))?;
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 256];
    // The status line is all we need.
    while !head.contains(&b'\n') {
        let n = stream
            .read(&mut buf)
            .await
            .with_context(|| format!("the connection to {address} failed"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("{address} did not answer HTTP: {:?}", line.lines().next()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn wildcards_probe_loopback() {
        assert_eq!(super::probe_address(Some("0.0.0.0"), 1), "127.0.0.1:1");
        assert_eq!(super::probe_address(None, 2), "127.0.0.1:2");
        assert_eq!(super::probe_address(Some("::"), 3), "[::1]:3");
        assert_eq!(super::probe_address(Some("10.0.0.2"), 4), "10.0.0.2:4");
    }
}
