//! The gateway.toml text of a [`Draft`]: every section `check` needs, each guessed value with
//! a comment above it saying how sure and why, and the unplaced fields listed at the end.

use std::fmt::Write;

use super::Draft;
use super::auth::{URL_VAR, toml_key, toml_string};
use super::guess::Reason;
use crate::downstream::paging::Paging;

/// Renders the draft as gateway.toml.
pub fn render(d: &Draft) -> String {
    let mut out = String::new();
    header(&mut out, d);
    downstream(&mut out, d);
    users(&mut out, d);
    list(&mut out, d);
    search(&mut out, d);
    attributes(&mut out, d);
    groups(&mut out, d);
    unplaced(&mut out, d);
    out
}

/// `line` with `reason` as a comment above it.
fn guessed(out: &mut String, reason: &Reason, line: &str) {
    let _ = writeln!(out, "{}\n{line}", reason.comment());
}

fn header(out: &mut String, d: &Draft) {
    let _ = writeln!(
        out,
        "# gateway.toml written by `scim-gateway init` from {} ({}{}).\n\
         # Each guessed value has a comment above it: \"sure\", \"likely\" or \"a guess\", and why.\n\
         # Read them, then: scim-gateway check --config <this file> --allow-missing-env\n\
         # Every key is documented in README.md (\"gateway.toml reference\").\n",
        d.source,
        d.version,
        d.title
            .as_deref()
            .map(|t| format!(", \"{t}\""))
            .unwrap_or_default(),
    );
    out.push_str(
        "[server]\nlisten = \"127.0.0.1:8080\"\nbase_path = \"/scim/v2\"          # Tenant URL = http(s)://<host><base_path>\n\n\
         [auth]\n# The Secret Token the SCIM client (Entra ID, Okta) sends; README \"[auth]\" has the other ways.\n\
         bearer = [\"${SCIM_TOKEN}\"]\n\n",
    );
}

fn downstream(out: &mut String, d: &Draft) {
    out.push_str("[downstream]\n");
    let origin = d
        .origin
        .as_deref()
        .map(|o| format!(" (the document's server: {o})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "# The API's scheme and host{origin}; the operations below carry the whole path.\nbase_url = \"${{{URL_VAR}}}\""
    );
    match &d.auth.table {
        Some(table) => guessed(out, &d.auth.reason, &format!("auth = {table}")),
        None => {
            let _ = writeln!(out, "{}", d.auth.reason.comment());
        }
    }
    for other in &d.auth.others {
        let _ = writeln!(out, "# the document also offers {other}");
    }
    out.push_str("timeout_ms = 10000\n\n");
}

fn users(out: &mut String, d: &Draft) {
    out.push_str("[users]\n");
    for (key, (value, reason)) in [
        ("create", &d.create),
        ("read", &d.read),
        ("update", &d.update),
        ("delete", &d.delete),
    ] {
        guessed(out, reason, &format!("{key} = {}", toml_string(value)));
    }
    guessed(
        out,
        &d.resource.record.id.1,
        &format!("id = {}", toml_string(&d.resource.record.id.0)),
    );
    match &d.resource.record.envelope {
        Some((name, reason)) => guessed(
            out,
            reason,
            &format!("envelope = {}", toml_string(&format!("/{name}"))),
        ),
        None => out.push_str("# no envelope: records travel as bare objects\n"),
    }
    out.push_str(
        "# unmapped = \"store\"  # SCIM attributes no rule maps are kept by the gateway (default), or \"ignore\", \"reject\"\n\n",
    );
}

fn list(out: &mut String, d: &Draft) {
    out.push_str("[users.list]\n");
    let Some(list) = &d.list else {
        let _ = writeln!(
            out,
            "# a guess: the document has no GET on {}; the gateway needs a list to answer filters\nrequest = {}\nitems = \"\"",
            d.resource.collection,
            toml_string(&format!("GET {}{}", d.base_path, d.resource.collection))
        );
        out.push('\n');
        return;
    };
    let _ = writeln!(out, "request = {}", toml_string(&list.request));
    guessed(
        out,
        &list.items.1,
        &format!("items = {}", toml_string(&list.items.0)),
    );
    match &list.total {
        Some(total) => {
            let _ = writeln!(out, "total = {}", toml_string(total));
        }
        None => out
            .push_str("# no total in the list answer: the gateway counts by reading to the end\n"),
    }
    let _ = writeln!(out, "{}", list.paging_reason.comment());
    let q = |s: &str| toml_string(s);
    let lines = match &list.paging {
        Paging::None => vec!["paging = \"none\"".to_owned()],
        Paging::Page { page, size, first } => vec![
            "paging = \"page\"".into(),
            format!("page_param = {}", q(page)),
            format!("size_param = {}", q(size)),
            format!("first_page = {first}"),
        ],
        Paging::Offset { offset, limit } => vec![
            "paging = \"offset\"".into(),
            format!("offset_param = {}", q(offset)),
            format!("limit_param = {}", q(limit)),
        ],
        Paging::Cursor { cursor, size, next } => {
            let mut l = vec![
                "paging = \"cursor\"".into(),
                format!("cursor_param = {}", q(cursor)),
                format!("next = {}", q(&next.to_string())),
            ];
            l.extend(size.iter().map(|s| format!("size_param = {}", q(s))));
            l
        }
        Paging::NextLink { size, next } => {
            let mut l = vec![
                "paging = \"next_link\"".into(),
                format!("next = {}", q(&next.to_string())),
            ];
            l.extend(size.iter().map(|s| format!("size_param = {}", q(s))));
            l
        }
    };
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    match list.max_page_size {
        Some(max) => {
            let _ = writeln!(out, "max_page_size = {max}  # the size parameter's maximum");
        }
        None => out.push_str("# max_page_size = 100  # the document gives no maximum page size; 100 is the default\n"),
    }
    out.push('\n');
}

fn search(out: &mut String, d: &Draft) {
    if d.search.is_empty() {
        out.push_str("# [users.search]: the list takes no parameter named like userName's or the email's field,\n# so the gateway filters by reading the list.\n\n");
        return;
    }
    out.push_str("[users.search]\n");
    for s in &d.search {
        guessed(
            out,
            &s.reason,
            &format!("{} = {}", toml_string(s.key), toml_string(&s.param)),
        );
    }
    out.push('\n');
}

fn attributes(out: &mut String, d: &Draft) {
    out.push_str("[users.attributes]\n");
    for rule in &d.placement.rules {
        guessed(
            out,
            &rule.reason,
            &format!("{} = {}", toml_key(&rule.scim), rule.value),
        );
    }
    out.push('\n');
}

fn groups(out: &mut String, d: &Draft) {
    out.push_str("[groups]\n# Groups live in the gateway's store; README \"[groups]\" shows how they give roles and licences.\nmode = \"virtual\"\n");
    for line in d.groups.iter().flatten() {
        let _ = writeln!(out, "{line}");
    }
    out.push('\n');
}

fn unplaced(out: &mut String, d: &Draft) {
    if d.placement.unplaced.is_empty() {
        out.push_str("# Every field of the record has a rule above.\n");
        return;
    }
    out.push_str(
        "# Fields of the record no rule above maps (SCIM clients neither see nor set them);\n\
         # add a rule under [users.attributes] for any that a SCIM attribute should carry:\n",
    );
    for field in &d.placement.unplaced {
        let required = if field.required {
            ", required on create: give it a rule or a downstream_fields value"
        } else {
            ""
        };
        let _ = writeln!(out, "#   {}: {}{required}", field.pointer, field.describe());
    }
}
