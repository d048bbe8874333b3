//! Property test of identities and permissions: grants never exceed what the agent type allows,
//! and the reader an identity makes matches its permissions.

use crate::domain::Reader;
use crate::domain::identity::{
    AgentId, AgentType, Identity, Permission, PermissionTable, Permissions,
};
use crate::domain::prop_gen::ITERATIONS;
use crate::domain::prop_gen::XorShift;

#[test]
fn prop_identity_and_permissions() {
    let mut rng = XorShift::new(0x0005_eed0_0004);
    let table = PermissionTable::default();
    let types = [
        "claude", "gemini", "codex", "cursor", "admin", "system", "test", "generic", "unknown",
        "reviewer", "Claude",
    ];
    for _ in 0..ITERATIONS {
        let requested = Permissions::of(
            &Permission::ALL
                .into_iter()
                .filter(|_| rng.chance(1, 2))
                .collect::<Vec<_>>(),
        );
        let type_name: &&str = rng.pick(&types);
        let agent_type = AgentType::parse(type_name).unwrap();
        let granted = table.grant(&agent_type, requested);
        let allowed = table.for_type(&agent_type);
        // Never more than the type allows (plus read, which everyone has).
        for p in granted.iter() {
            assert!(
                p == Permission::Read || allowed.contains(p),
                "{p} granted to {agent_type}"
            );
        }
        assert!(granted.contains(Permission::Read));
        if matches!(agent_type.as_str(), "generic" | "unknown" | "reviewer") {
            assert_eq!(
                granted,
                Permissions::READ_ONLY,
                "{agent_type} got {granted}"
            );
        }

        // Reader::of: admin permission makes an admin reader, anonymous reads public only.
        let identity = Identity::Agent {
            agent_id: AgentId::parse("someone").unwrap(),
            agent_type: agent_type.clone(),
            permissions: granted,
            expires_at: chrono::Utc::now(),
        };
        let reader = Reader::of(&identity);
        assert_eq!(
            matches!(reader, Reader::Admin),
            granted.contains(Permission::Admin)
        );
        assert_eq!(identity.is_admin(), granted.contains(Permission::Admin));
        assert_eq!(
            identity.require(Permission::Write).is_ok(),
            granted.contains(Permission::Write)
        );
        assert_eq!(Reader::of(&Identity::Anonymous), Reader::PublicOnly);
        assert!(Identity::Anonymous.require(Permission::Write).is_err());
        assert!(Identity::Anonymous.require(Permission::Read).is_ok());
    }
}
