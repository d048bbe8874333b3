//! Property test of the visibility rule: admin reads all, anonymous reads public, agents follow the
//! rule case by case, and a filter only narrows.

use crate::domain::prop_gen::{ITERATIONS, XorShift};
use crate::domain::{Reader, Visibility, VisibilityFilter};

fn random_reader(rng: &mut XorShift, ids: &[&str], types: &[&str]) -> Reader {
    match rng.below(4) {
        0 => Reader::Admin,
        1 => Reader::PublicOnly,
        _ => Reader::Agent {
            agent_id: rng.pick(ids).to_string(),
            agent_type: rng.pick(types).to_string(),
        },
    }
}

/// What the read paths apply: the rule, then the optional filter (`$5 IS NULL OR m.visibility = $5`).
fn visible(
    reader: &Reader,
    filter: VisibilityFilter,
    v: Visibility,
    sender: &str,
    sender_type: &str,
) -> bool {
    reader.may_read(v, sender, sender_type, &[]) && filter.0.is_none_or(|f| f == v)
}

#[test]
fn prop_visibility_rule_is_monotone_and_filters_only_narrow() {
    let mut rng = XorShift::new(0x0005_eed0_0003);
    let ids = ["alice", "bob", "Alice", "alice ", "", "carol"];
    let types = ["claude", "gemini", "generic", "admin", ""];
    for _ in 0..ITERATIONS {
        let v = *rng.pick(&Visibility::ALL);
        let sender = *rng.pick(&ids);
        let sender_type = *rng.pick(&types);
        let reader = random_reader(&mut rng, &ids, &types);

        // Admin reads everything; anonymous reads exactly the public messages.
        assert!(Reader::Admin.may_read(v, sender, sender_type, &[]));
        assert_eq!(
            Reader::PublicOnly.may_read(v, sender, sender_type, &[]),
            v == Visibility::Public
        );

        // Monotone: anonymous ⊆ any agent ⊆ admin.
        let agent = Reader::Agent {
            agent_id: rng.pick(&ids).to_string(),
            agent_type: rng.pick(&types).to_string(),
        };
        if Reader::PublicOnly.may_read(v, sender, sender_type, &[]) {
            assert!(
                agent.may_read(v, sender, sender_type, &[]),
                "{agent:?} reads less than anonymous"
            );
        }

        // The rule, case by case, for agents.
        if let Reader::Agent {
            agent_id,
            agent_type,
        } = &reader
        {
            let want = match v {
                Visibility::Public => true,
                Visibility::Private => agent_id == sender,
                Visibility::AgentOnly => agent_type == sender_type,
                Visibility::AdminOnly => false,
            };
            assert_eq!(
                reader.may_read(v, sender, sender_type, &[]),
                want,
                "{reader:?} reading {v} by {sender}/{sender_type}"
            );
        }

        // A filter only narrows: filtered ⊆ unfiltered, and the filters together give it back.
        let unfiltered = visible(&reader, VisibilityFilter(None), v, sender, sender_type);
        let mut any = false;
        for f in Visibility::ALL {
            let filtered = visible(&reader, VisibilityFilter(Some(f)), v, sender, sender_type);
            assert!(
                !filtered || unfiltered,
                "filter {f} widened what {reader:?} reads"
            );
            any |= filtered;
        }
        assert_eq!(any, unfiltered);
    }
}
