//! `Role`: what a user may do in the account.

use std::fmt;

/// One of the roles an import may give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    User,
    PbxAdmin,
    Supervisor,
    Agent,
    Receptionist,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::User,
        Role::PbxAdmin,
        Role::Supervisor,
        Role::Agent,
        Role::Receptionist,
    ];

    /// The role as templates, reports and the database spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::PbxAdmin => "pbx_admin",
            Role::Supervisor => "supervisor",
            Role::Agent => "agent",
            Role::Receptionist => "receptionist",
        }
    }

    /// Parses a role, case-insensitively with surrounding spaces ignored.
    pub fn parse(cell: &str) -> Option<Role> {
        let cell = cell.trim();
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(cell))
    }

    /// The roles as a message lists them: `user, pbx_admin, …`.
    pub fn choices() -> String {
        let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        names.join(", ")
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Role;

    #[test]
    fn roles_parse_case_insensitively() {
        assert_eq!(Role::parse(" PBX_Admin "), Some(Role::PbxAdmin));
        assert_eq!(Role::parse("admin"), None);
        assert_eq!(
            Role::choices(),
            "user, pbx_admin, supervisor, agent, receptionist"
        );
    }
}
