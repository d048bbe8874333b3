//! The standard Prometheus `process_*` figures of this process: resident memory, CPU time, open
//! and maximum file descriptors, start time. Linux reads `/proc`; elsewhere only what `getrusage`
//! and `getrlimit` give (through nix's safe wrappers: the crate forbids `unsafe`).

/// One reading; a figure the platform cannot give is `None` and is left out of `/metrics`.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessFigures {
    pub resident_memory_bytes: Option<u64>,
    pub cpu_seconds: Option<f64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
    pub start_time_seconds: Option<f64>,
}

pub fn read() -> ProcessFigures {
    ProcessFigures {
        resident_memory_bytes: resident_memory_bytes(),
        cpu_seconds: cpu_seconds(),
        open_fds: std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as u64),
        max_fds: max_fds(),
        start_time_seconds: start_time_seconds(),
    }
}

fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

fn cpu_seconds() -> Option<f64> {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_SELF).ok()?;
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    Some(secs(usage.user_time()) + secs(usage.system_time()))
}

fn max_fds() -> Option<u64> {
    let (soft, _hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).ok()?;
    Some(soft)
}

/// Boot time (`btime` in /proc/stat) plus the process's start in clock ticks after boot (field 22
/// of /proc/self/stat, counted after the parenthesised command name, which may contain spaces).
fn start_time_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    // after_name starts with field 3 (state); starttime is field 22.
    let ticks: f64 = after_name.split_whitespace().nth(22 - 3)?.parse().ok()?;
    let boot: f64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok()??;
    (hz > 0).then(|| boot + ticks / hz as f64)
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn reads_this_process() {
        let p = super::read();
        assert!(p.resident_memory_bytes.unwrap() > 1 << 20);
        assert!(p.open_fds.unwrap() >= 3);
        assert!(p.max_fds.unwrap() >= p.open_fds.unwrap());
        assert!(p.cpu_seconds.unwrap() > 0.0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = p.start_time_seconds.unwrap();
        assert!(
            start <= now + 1.0 && start > now - 3600.0,
            "{start} vs {now}"
        );
    }
}
