//! `[users.attributes]` guessed from the record's field names, types and formats: which field
//! is the given name, the email, the status... Each rule carries how sure the guess is and
//! why; fields no rule takes are returned so they can be listed for the operator.

use super::auth::toml_string;
use super::fields::Field;
use super::guess::{Confidence, Reason};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A SCIM attribute and the field names that usually hold it: `strong` names say so on
/// their own, `weak` ones only inside an object named like it (`name.first`).
struct Target {
    scim: &'static str,
    strong: &'static [&'static str],
    weak: &'static [&'static str],
    /// What the weak names' parent must contain to count as strong.
    parent: &'static str,
}

const fn t(
    scim: &'static str,
    strong: &'static [&'static str],
    weak: &'static [&'static str],
) -> Target {
    Target {
        scim,
        strong,
        weak,
        parent: "",
    }
}

/// Scalar attributes, in the order rules are written.
const SCALARS: &[Target] = &[
    Target {
        scim: "name.givenName",
        strong: &["firstname", "givenname", "forename"],
        weak: &["first", "given"],
        parent: "name",
    },
    Target {
        scim: "name.familyName",
        strong: &["lastname", "familyname", "surname"],
        weak: &["last", "family"],
        parent: "name",
    },
    Target {
        scim: "name.middleName",
        strong: &["middlename"],
        weak: &["middle"],
        parent: "name",
    },
    t("displayName", &["displayname", "fullname"], &["name"]),
    t("nickName", &["nickname"], &[]),
    t("title", &["jobtitle", "title"], &["position"]),
    t("userType", &["usertype", "employeetype"], &[]),
    t(
        "preferredLanguage",
        &["preferredlanguage", "language"],
        &["lang"],
    ),
    t("locale", &["locale"], &[]),
    t("timezone", &["timezone"], &["tz"]),
    t(
        "phoneNumbers[type eq \"work\"].value",
        &[
            "phone",
            "phonenumber",
            "workphone",
            "telephone",
            "businessphone",
        ],
        &["tel"],
    ),
    t(
        "phoneNumbers[type eq \"mobile\"].value",
        &["mobile", "mobilephone", "cellphone", "mobilenumber"],
        &[],
    ),
    t(
        "externalId",
        &[
            "externalid",
            "externalref",
            "externalreference",
            "foreignid",
            "sourceid",
            "externalkey",
        ],
        &[],
    ),
];

/// Enterprise extension attributes (RFC 7643 §4.3).
const ENTERPRISE_SCALARS: &[Target] = &[
    t("department", &["department", "dept"], &[]),
    t("division", &["division"], &[]),
    t(
        "organization",
        &["organization", "organisation", "company"],
        &[],
    ),
    t("costCenter", &["costcenter", "costcentre"], &[]),
    t(
        "employeeNumber",
        &[
            "employeenumber",
            "employeeid",
            "employeeno",
            "staffnumber",
            "staffid",
            "personnelnumber",
        ],
        &[],
    ),
    t(
        "manager.value",
        &["managerid", "manageruserid"],
        &["manager"],
    ),
];

const META: &[Target] = &[
    t(
        "meta.created",
        &[
            "createdat",
            "created",
            "creationdate",
            "createddate",
            "createdon",
            "datecreated",
            "createtime",
            "createdtime",
        ],
        &[],
    ),
    t(
        "meta.lastModified",
        &[
            "updatedat",
            "updated",
            "modified",
            "modifiedat",
            "lastmodified",
            "lastupdated",
            "updatedon",
            "modifiedon",
            "updatetime",
            "lastmodifiedat",
            "datemodified",
        ],
        &[],
    ),
];

const LOGIN: &[&str] = &[
    "username",
    "login",
    "loginname",
    "userprincipalname",
    "upn",
    "accountname",
    "handle",
];
const EMAIL: &[&str] = &["email", "mail", "emailaddress", "workemail", "primaryemail"];
const ACTIVE: &[&str] = &["active", "enabled", "isactive", "isenabled"];
const INACTIVE: &[&str] = &[
    "disabled",
    "suspended",
    "locked",
    "blocked",
    "isdisabled",
    "deactivated",
    "inactive",
    "isblocked",
    "islocked",
];
const STATUS: &[&str] = &["status", "state", "accountstatus", "userstatus"];
const ACTIVE_VALUES: &[&str] = &["active", "enabled", "activated", "normal"];
const INACTIVE_VALUES: &[&str] = &[
    "suspended",
    "inactive",
    "disabled",
    "deactivated",
    "blocked",
    "locked",
    "archived",
];
/// Status values of people who may sign in soon: read as active.
const PENDING_VALUES: &[&str] = &["invited", "pending", "provisioned", "staged", "new"];
const ROLE: &[&str] = &["role", "primaryrole", "userrole"];
const ROLES: &[&str] = &["roles"];
const LICENCES: &[&str] = &["licences", "licenses", "entitlements", "plans"];

/// One guessed rule.
#[derive(Debug, Clone)]
pub struct Placed {
    /// The SCIM attribute path (the key in `[users.attributes]`).
    pub scim: String,
    /// The rule as TOML: a quoted pointer or an inline table.
    pub value: String,
    pub reason: Reason,
}

/// Every rule guessed, and the fields left without one.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    pub rules: Vec<Placed>,
    pub unplaced: Vec<Field>,
    /// The field userName is written to, if any (search push-down uses it).
    pub user_name: Option<Field>,
    /// The field the work email is written to or read from.
    pub email: Option<Field>,
}

/// Places the record's fields (`id` is the id pointer, never an attribute).
pub fn place(fields: &[Field], id: &str) -> Placement {
    let mut pool: Vec<Field> = fields.iter().filter(|f| f.pointer != id).cloned().collect();
    let mut out = Placement::default();
    place_identity(&mut pool, &mut out);
    if let Some(at) = pool.iter().position(|f| active_rule(f).is_some()) {
        let field = pool.remove(at);
        out.rules.extend(active_rule(&field));
    }
    for target in SCALARS {
        place_scalar(&mut pool, &mut out, target, target.scim.to_owned());
    }
    for target in ENTERPRISE_SCALARS {
        place_scalar(
            &mut pool,
            &mut out,
            target,
            format!("{ENTERPRISE}:{}", target.scim),
        );
    }
    place_lists(&mut pool, &mut out);
    for target in META {
        place_scalar(&mut pool, &mut out, target, target.scim.to_owned());
    }
    if let Some(f) = take(&mut pool, |f| f.name == "password" && f.kind == "string") {
        out.rules.push(Placed {
            scim: "password".into(),
            value: format!(
                "{{ path = {}, direction = \"write_only\" }}",
                toml_string(&f.pointer)
            ),
            reason: Reason::new(
                Confidence::High,
                "sent on create and update, never read back",
            ),
        });
    }
    display_name_template(&mut out);
    out.unplaced = pool;
    out
}

/// Removes and returns the first field of `pool` that passes `fits`.
fn take(pool: &mut Vec<Field>, fits: impl Fn(&Field) -> bool) -> Option<Field> {
    let at = pool.iter().position(fits)?;
    Some(pool.remove(at))
}

fn named(names: &'static [&'static str]) -> impl Fn(&Field) -> bool {
    move |f: &Field| names.contains(&f.name.as_str()) && f.is_scalar()
}

/// userName and the work email: a login field for userName when there is one, else the email
/// (then the work email reads the same field).
fn place_identity(pool: &mut Vec<Field>, out: &mut Placement) {
    let login = take(pool, named(LOGIN));
    let email = take(pool, |f| {
        EMAIL.contains(&f.name.as_str()) && f.kind == "string"
    })
    .or_else(|| take(pool, |f| f.format.as_deref() == Some("email")));
    let email_reason = |f: &Field| match f.format.as_deref() {
        Some("email") => Reason::new(
            Confidence::High,
            format!("`{}` is a string of format email", f.pointer),
        ),
        _ => Reason::new(
            Confidence::Medium,
            format!("`{}` is named like an email (no format given)", f.pointer),
        ),
    };
    match (&login, &email) {
        (Some(login), _) => out.rules.push(Placed {
            scim: "userName".into(),
            value: rule(login, &[]),
            reason: Reason::new(Confidence::High, format!("`{}` is named like a login name", login.pointer)),
        }),
        (None, Some(email)) => out.rules.push(Placed {
            scim: "userName".into(),
            value: rule(email, &[]),
            reason: Reason::new(
                Confidence::Medium,
                format!(
                    "no login-name field: the email `{}` is the user's key. Entra ID sends the UPN as userName; \
                     where UPN and mail differ, keep userName in the gateway (README: attribute rules, \
                     `store = true` with `default_from`)",
                    email.pointer
                ),
            ),
        }),
        (None, None) => out.rules.push(Placed {
            scim: "userName".into(),
            value: "{ store = true }".into(),
            reason: Reason::new(Confidence::Low, "no field for a login name or email: the gateway keeps userName in its store"),
        }),
    }
    if let Some(email) = &email {
        let read_only = login.is_none();
        let mut reason = email_reason(email);
        if read_only {
            reason
                .why
                .push_str("; read-only, since userName writes this field");
        }
        out.rules.push(Placed {
            scim: "emails[type eq \"work\"].value".into(),
            value: rule(
                email,
                if read_only {
                    &[("direction", "\"read_only\"")]
                } else {
                    &[]
                },
            ),
            reason,
        });
    }
    out.user_name = login.or_else(|| email.clone());
    out.email = email;
}

/// `active` from a boolean (`enabled`, or an inverted `disabled`) or a status enum.
fn active_rule(f: &Field) -> Option<Placed> {
    let path = toml_string(&f.pointer);
    let (value, reason) = if f.kind == "boolean" && ACTIVE.contains(&f.name.as_str()) {
        (
            rule(f, &[]),
            Reason::new(
                Confidence::High,
                format!("`{}` is a boolean named like active", f.pointer),
            ),
        )
    } else if f.kind == "boolean" && INACTIVE.contains(&f.name.as_str()) {
        (
            format!("{{ path = {path}, map = {{ true = false, false = true }} }}"),
            Reason::new(
                Confidence::Medium,
                format!(
                    "`{}` is a boolean meaning the opposite of active",
                    f.pointer
                ),
            ),
        )
    } else if f.kind == "string" && STATUS.contains(&f.name.as_str()) {
        status_rule(f)?
    } else {
        return None;
    };
    Some(Placed {
        scim: "active".into(),
        value,
        reason,
    })
}

fn status_rule(f: &Field) -> Option<(String, Reason)> {
    let find = |names: &[&str]| {
        f.values
            .iter()
            .find(|v| names.contains(&v.to_lowercase().as_str()))
            .cloned()
    };
    let path = toml_string(&f.pointer);
    let (Some(on), Some(off)) = (find(ACTIVE_VALUES), find(INACTIVE_VALUES)) else {
        return None;
    };
    let rest: Vec<&String> = f
        .values
        .iter()
        .filter(|v| **v != on && **v != off)
        .collect();
    let read: Vec<String> = rest
        .iter()
        .map(|v| {
            format!(
                "{} = {}",
                toml_string(v),
                PENDING_VALUES.contains(&v.to_lowercase().as_str())
            )
        })
        .collect();
    let map_read = if read.is_empty() {
        String::new()
    } else {
        format!(", map_read = {{ {} }}", read.join(", "))
    };
    let value = format!(
        "{{ path = {path}, map = {{ true = {}, false = {} }}{map_read} }}",
        toml_string(&on),
        toml_string(&off)
    );
    let mut why = format!("`{}` is an enum with {on:?} and {off:?}", f.pointer);
    if !rest.is_empty() {
        why.push_str(&format!(
            "; the other values are read as active when they sound like not yet signed in ({}), else inactive",
            PENDING_VALUES.join(", ")
        ));
    }
    Some((value, Reason::new(Confidence::High, why)))
}

fn place_scalar(pool: &mut Vec<Field>, out: &mut Placement, target: &Target, scim: String) {
    let strong = take(pool, |f| {
        target.strong.contains(&f.name.as_str()) && f.is_scalar()
    });
    let (field, confidence) = match strong {
        Some(f) => (f, Confidence::High),
        None => {
            let Some(f) = take(pool, |f| {
                target.weak.contains(&f.name.as_str()) && f.is_scalar()
            }) else {
                return;
            };
            let inside = !target.parent.is_empty()
                && f.parent
                    .as_deref()
                    .is_some_and(|p| p.contains(target.parent));
            (
                f,
                if inside {
                    Confidence::High
                } else {
                    Confidence::Medium
                },
            )
        }
    };
    let mut options: Vec<(&str, &str)> = Vec::new();
    let meta = scim.starts_with("meta.");
    match field.kind.as_str() {
        "integer" if !meta => options.push(("downstream_type", "\"integer\"")),
        "number" if !meta => options.push(("downstream_type", "\"number\"")),
        _ => {}
    }
    if field.read_only && !meta {
        options.push(("direction", "\"read_only\""));
    }
    let why = format!(
        "`{}` ({}) is named like {}",
        field.pointer,
        field.describe(),
        scim.rsplit(':').next().unwrap_or(&scim)
    );
    out.rules.push(Placed {
        value: rule(&field, &options),
        scim,
        reason: Reason::new(confidence, why),
    });
}

/// Roles and licences: a single role field, a list of roles, a list of licences.
/// A test a field must pass to take a rule.
type Fits = dyn Fn(&Field) -> bool;

fn place_lists(pool: &mut Vec<Field>, out: &mut Placement) {
    let one = |f: &Field| ROLE.contains(&f.name.as_str()) && f.is_scalar();
    let list = |names: &'static [&'static str]| {
        move |f: &Field| names.contains(&f.name.as_str()) && f.items.as_deref() == Some("string")
    };
    let lists: [(&Fits, &str, Confidence, &str); 3] = [
        (
            &one,
            "roles[primary eq true].value",
            Confidence::Medium,
            "holds one role; the primary SCIM role goes there",
        ),
        (
            &list(ROLES),
            "roles",
            Confidence::High,
            "is a list of role names",
        ),
        (
            &list(LICENCES),
            "entitlements",
            Confidence::Medium,
            "is a list of strings named like licences",
        ),
    ];
    for (fits, scim, confidence, why) in lists {
        if let Some(f) = take(pool, fits) {
            out.rules.push(Placed {
                scim: scim.to_owned(),
                value: rule(&f, &[]),
                reason: Reason::new(confidence, format!("`{}` {why}", f.pointer)),
            });
        }
    }
}

/// displayName built from the name fields when the record has no field of its own for it.
fn display_name_template(out: &mut Placement) {
    if out.rules.iter().any(|r| r.scim == "displayName") {
        return;
    }
    let pointer = |scim: &str| {
        out.rules.iter().find(|r| r.scim == scim).and_then(|r| {
            r.value
                .strip_prefix('"')?
                .strip_suffix('"')
                .map(str::to_owned)
        })
    };
    if let (Some(given), Some(family)) = (pointer("name.givenName"), pointer("name.familyName")) {
        out.rules.push(Placed {
            scim: "displayName".into(),
            value: format!(
                "{{ template = {} }}",
                toml_string(&format!("{{{given}}} {{{family}}}"))
            ),
            reason: Reason::new(
                Confidence::Medium,
                "no display name field: shown as given and family name, read-only",
            ),
        });
    }
}

/// A rule for `f`: its quoted pointer, or a table with `options` (`key`, TOML value).
fn rule(f: &Field, options: &[(&str, &str)]) -> String {
    let path = toml_string(&f.pointer);
    if options.is_empty() {
        return path;
    }
    let rest: Vec<String> = options.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    format!("{{ path = {path}, {} }}", rest.join(", "))
}

#[cfg(test)]
mod tests;
