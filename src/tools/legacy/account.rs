//! The account record of the sample API and the two shapes a write can take
//! (a full set of writable fields, or a partial patch), kept apart from HTTP
//! parsing so the store works on typed data only.

use serde_json::{Value, json};

/// Whether an account may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Active,
    Suspended,
}

impl Status {
    /// Parses the wire value, `None` for anything but `active`/`suspended`.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }

    /// The wire value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }
}

/// Every field a client may write, fully resolved (defaults applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AccountFields {
    pub(crate) email: String,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) status: Status,
    pub(crate) role: String,
    pub(crate) licences: Vec<String>,
    pub(crate) department: Option<String>,
    pub(crate) employee_number: Option<String>,
    pub(crate) manager_id: Option<u64>,
    pub(crate) external_ref: Option<String>,
    pub(crate) phone: Option<String>,
    /// Free key/value pairs (strings), e.g. for a SCIM metadata extension.
    pub(crate) metadata: std::collections::BTreeMap<String, String>,
}

/// A partial write: `None` leaves a field alone; for nullable fields
/// `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AccountPatch {
    pub(crate) email: Option<String>,
    pub(crate) first_name: Option<Option<String>>,
    pub(crate) last_name: Option<Option<String>>,
    pub(crate) status: Option<Status>,
    pub(crate) role: Option<String>,
    pub(crate) licences: Option<Vec<String>>,
    pub(crate) department: Option<Option<String>>,
    pub(crate) employee_number: Option<Option<String>>,
    pub(crate) manager_id: Option<Option<u64>>,
    pub(crate) external_ref: Option<Option<String>>,
    pub(crate) phone: Option<Option<String>>,
    pub(crate) metadata: Option<std::collections::BTreeMap<String, String>>,
}

/// The role given when a write does not name one.
pub(crate) const DEFAULT_ROLE: &str = "user";

impl AccountPatch {
    /// Resolves a create/replace body: absent fields take their default, and
    /// `None` is returned when the required email is missing.
    pub(crate) fn into_full(self) -> Option<AccountFields> {
        Some(AccountFields {
            email: self.email?,
            first_name: self.first_name.flatten(),
            last_name: self.last_name.flatten(),
            status: self.status.unwrap_or(Status::Active),
            role: self.role.unwrap_or_else(|| DEFAULT_ROLE.to_owned()),
            licences: self.licences.unwrap_or_default(),
            department: self.department.flatten(),
            employee_number: self.employee_number.flatten(),
            manager_id: self.manager_id.flatten(),
            external_ref: self.external_ref.flatten(),
            phone: self.phone.flatten(),
            metadata: self.metadata.unwrap_or_default(),
        })
    }

    /// Applies the given fields onto `fields`, leaving the others unchanged.
    pub(crate) fn apply(self, fields: &mut AccountFields) {
        fn set<T>(slot: &mut T, value: Option<T>) {
            if let Some(v) = value {
                *slot = v;
            }
        }
        set(&mut fields.email, self.email);
        set(&mut fields.first_name, self.first_name);
        set(&mut fields.last_name, self.last_name);
        set(&mut fields.status, self.status);
        set(&mut fields.role, self.role);
        set(&mut fields.licences, self.licences);
        set(&mut fields.department, self.department);
        set(&mut fields.employee_number, self.employee_number);
        set(&mut fields.manager_id, self.manager_id);
        set(&mut fields.external_ref, self.external_ref);
        set(&mut fields.phone, self.phone);
        set(&mut fields.metadata, self.metadata);
    }
}

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Account {
    pub(crate) id: u64,
    pub(crate) fields: AccountFields,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
}

impl Account {
    /// The account as the API returns it, fields in a fixed order.
    pub(crate) fn to_json(&self) -> Value {
        let f = &self.fields;
        json!({
            "id": self.id,
            "email": f.email,
            "first_name": f.first_name,
            "last_name": f.last_name,
            "status": f.status.as_str(),
            "role": f.role,
            "licences": f.licences,
            "department": f.department,
            "employee_number": f.employee_number,
            "manager_id": f.manager_id,
            "external_ref": f.external_ref,
            "phone": f.phone,
            "metadata": f.metadata,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}
