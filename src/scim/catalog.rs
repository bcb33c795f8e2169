//! The RFC 7643 §8.7.1 schema catalog (User, the enterprise User extension and Group), embedded in the binary:
//! the attribute characteristics rules are resolved against and `/Schemas` is cut from.

use super::schema::{ResourceSchema, SchemaDef};

const USER: &str = include_str!("schemas/user.json");
const ENTERPRISE_USER: &str = include_str!("schemas/enterprise_user.json");
const GROUP: &str = include_str!("schemas/group.json");

/// URN of the core User schema.
pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// URN of the enterprise User extension.
pub const ENTERPRISE_USER_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[allow(
    clippy::expect_used,
    reason = "compiled-in data covered by tests, not input"
)]
fn parse(json: &str) -> SchemaDef {
    serde_json::from_str(json).expect("embedded RFC 7643 schema is valid")
}

/// The User resource type's schemas: core User plus the enterprise extension.
pub fn user_schema() -> ResourceSchema {
    ResourceSchema {
        core: parse(USER),
        extensions: vec![parse(ENTERPRISE_USER)],
    }
}

/// URN of the core Group schema.
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// The Group resource type's schema (no extensions).
pub fn group_schema() -> ResourceSchema {
    ResourceSchema {
        core: parse(GROUP),
        extensions: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_schemas_parse_with_the_rfc_characteristics() {
        let user = user_schema();
        let user_name = user.attribute(None, "USERNAME").unwrap();
        assert!(user_name.required && !user_name.case_exact);
        assert_eq!(user.core.id, USER_URN);
        assert!(
            user.attribute(Some(ENTERPRISE_USER_URN), "manager")
                .is_some()
        );
    }
}
