//! The end-of-run checks of `scs-bench --workload lease|task` (`coordination.rs`): no two holders
//! of one exclusive lease at once, judged by fencing tokens and the agents' own clock, and every
//! created task claimed exactly once.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// One granted lease as the agent saw it: its response arrived at `granted`, its release was
/// sent at `released` (`None`: the release failed, so it may be held until its TTL).
#[derive(Debug)]
pub struct Grant {
    pub path: String,
    pub token: i64,
    pub granted: Instant,
    pub released: Option<Instant>,
}

/// No token twice; per path, each grant (by token) came after the previous holder released.
pub fn check_leases(grants: &[Grant]) -> Result<String, String> {
    let mut tokens = HashSet::new();
    for g in grants {
        if !tokens.insert(g.token) {
            return Err(format!("fencing token {} granted twice", g.token));
        }
    }
    let mut by_path: HashMap<&str, Vec<&Grant>> = HashMap::new();
    for g in grants {
        by_path.entry(&g.path).or_default().push(g);
    }
    let mut contended = 0;
    for (path, mut list) in by_path {
        list.sort_by_key(|g| g.token);
        if list.len() > 1 {
            contended += list.len();
        }
        for pair in list.windows(2) {
            let (before, after) = (pair[0], pair[1]);
            match before.released {
                Some(released) if after.granted >= released => {}
                Some(_) => {
                    return Err(format!(
                        "{path}: token {} was granted before token {} was released: two holders at once",
                        after.token, before.token
                    ));
                }
                None => {
                    return Err(format!(
                        "{path}: token {} was granted while token {} was never released",
                        after.token, before.token
                    ));
                }
            }
        }
    }
    Ok(format!(
        "{} grants, {} distinct fencing tokens; {contended} grants on paths granted more than once, \
         each after its predecessor's release (no two holders at once)",
        grants.len(),
        tokens.len()
    ))
}

/// Every created task claimed exactly once, and nothing else claimed.
pub fn check_tasks(created: &[i64], claimed: &[i64], drained: bool) -> Result<String, String> {
    let mut seen = HashSet::new();
    for id in claimed {
        if !seen.insert(*id) {
            return Err(format!("task {id} claimed twice"));
        }
    }
    let made: HashSet<i64> = created.iter().copied().collect();
    let unclaimed = made.difference(&seen).count();
    let foreign = seen.difference(&made).count();
    if unclaimed > 0 || foreign > 0 || !drained {
        return Err(format!(
            "{} created, {} claimed: {unclaimed} never claimed, {foreign} claimed but not created here \
             (drain clean: {drained})",
            made.len(),
            seen.len()
        ));
    }
    Ok(format!(
        "{} tasks created, each claimed exactly once (run and drain)",
        made.len()
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn grant(path: &str, token: i64, granted: Instant, released: Option<Instant>) -> Grant {
        Grant {
            path: path.into(),
            token,
            granted,
            released,
        }
    }

    #[test]
    fn lease_check_catches_overlap_reuse_and_a_lost_release() {
        let t = Instant::now();
        let s = |ms| t + Duration::from_millis(ms);
        let ok = [
            grant("a", 1, s(0), Some(s(5))),
            grant("a", 2, s(6), Some(s(9))),
            grant("b", 3, s(1), Some(s(2))),
        ];
        assert!(check_leases(&ok).is_ok());
        let overlap = [
            grant("a", 1, s(0), Some(s(5))),
            grant("a", 2, s(4), Some(s(9))),
        ];
        assert!(check_leases(&overlap).unwrap_err().contains("two holders"));
        let reused = [grant("a", 1, s(0), Some(s(1))), grant("b", 1, s(2), None)];
        assert!(check_leases(&reused).unwrap_err().contains("twice"));
        let lost = [grant("a", 1, s(0), None), grant("a", 2, s(6), Some(s(7)))];
        assert!(check_leases(&lost).unwrap_err().contains("never released"));
    }

    #[test]
    fn task_check_catches_double_and_missing_claims() {
        assert!(check_tasks(&[1, 2, 3], &[3, 1, 2], true).is_ok());
        assert!(
            check_tasks(&[1, 2], &[1, 2, 2], true)
                .unwrap_err()
                .contains("twice")
        );
        assert!(
            check_tasks(&[1, 2], &[1], true)
                .unwrap_err()
                .contains("1 never claimed")
        );
        assert!(check_tasks(&[1], &[1], false).is_err());
    }
}
