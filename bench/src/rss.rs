//! `--sample-rss-pid`: the server's resident memory (VmRSS from /proc/PID/status) once a second.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// VmRSS in KiB from the text of a /proc/PID/status file.
pub fn parse_vmrss_kb(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

pub fn read_vmrss_kb(pid: u32) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_vmrss_kb(&status).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("no VmRSS line in /proc/{pid}/status"),
        )
    })
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct RssSummary {
    pub pid: u32,
    pub samples: usize,
    pub min_kb: u64,
    pub max_kb: u64,
    pub last_kb: u64,
}

pub struct RssSampler {
    pid: u32,
    stop: CancellationToken,
    task: JoinHandle<Vec<u64>>,
}

impl RssSampler {
    /// Takes one sample now (so a bad pid fails before the run), then one per `every`.
    pub fn start(pid: u32, every: Duration) -> std::io::Result<Self> {
        let first = read_vmrss_kb(pid)?;
        let stop = CancellationToken::new();
        let token = stop.clone();
        let task = tokio::spawn(async move {
            let mut samples = vec![first];
            let mut tick = tokio::time::interval(every);
            tick.tick().await; // the first tick is immediate: already sampled
            loop {
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = tick.tick() => match read_vmrss_kb(pid) {
                        Ok(kb) => samples.push(kb),
                        Err(_) => break, // the process exited
                    },
                }
            }
            if let Ok(kb) = read_vmrss_kb(pid) {
                samples.push(kb);
            }
            samples
        });
        Ok(Self { pid, stop, task })
    }

    pub async fn finish(self) -> Option<RssSummary> {
        self.stop.cancel();
        let samples = self.task.await.ok()?;
        Some(RssSummary {
            pid: self.pid,
            samples: samples.len(),
            min_kb: *samples.iter().min()?,
            max_kb: *samples.iter().max()?,
            last_kb: *samples.last()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vmrss() {
        let status =
            "Name:\tshared-context\nVmPeak:\t  99999 kB\nVmRSS:\t   12345 kB\nThreads:\t4\n";
        assert_eq!(parse_vmrss_kb(status), Some(12345));
        assert_eq!(parse_vmrss_kb("Name:\tx\n"), None);
    }

    #[test]
    fn reads_own_rss() {
        assert!(read_vmrss_kb(std::process::id()).unwrap() > 0);
    }
}
