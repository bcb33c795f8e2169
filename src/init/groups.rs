//! A group resource beside the users (`/teams` + `/teams/{id}` with member calls), offered to
//! the operator as the commented-out lines of `[groups] mode = "downstream"`.

use super::resource::Resource;

/// Collection names that usually hold groups.
const GROUPS: &[&str] = &[
    "groups",
    "teams",
    "departments",
    "units",
    "organizations",
    "organisations",
];

/// The commented `[groups]` lines for downstream mode, when the document has a group-like
/// resource; `None` when it has none.
pub fn downstream_lines(others: &[Resource], paths: &[&str], base: &str) -> Option<Vec<String>> {
    let group = others
        .iter()
        .find(|r| GROUPS.contains(&r.name.to_lowercase().as_str()))?;
    let mut lines = vec![
        format!(
            "# The document has a group resource, {}: to create groups there, use",
            group.collection
        ),
        "# mode = \"downstream\" with these lines (check each):".to_owned(),
        format!("# create = \"POST {base}{}\"", group.collection),
        format!(
            "# update = \"PATCH {base}{}\"",
            group.item.replace(&brace_param(&group.item), "{id}")
        ),
        format!(
            "# delete = \"DELETE {base}{}\"",
            group.item.replace(&brace_param(&group.item), "{id}")
        ),
    ];
    let member = paths
        .iter()
        .find(|p| p.starts_with(&format!("{}/", group.item)) && p.contains("members/{"));
    match member {
        Some(path) => {
            let (head, tail) = path.split_at(group.item.len());
            let tail = tail.rsplit_once('{').map_or(tail.to_owned(), |(before, _)| format!("{before}{{member}}"));
            let path = format!("{base}{}{tail}", head.replace(&brace_param(head), "{id}"));
            lines.push(format!("# add_member = \"PUT {path}\""));
            lines.push(format!("# remove_member = \"DELETE {path}\""));
        }
        None => lines.push("# members_field = \"/member_ids\"  # where the member list goes, if the API takes it whole".into()),
    }
    if let Some((envelope, _)) = &group.record.envelope {
        lines.push(format!("# envelope = \"/{envelope}\""));
    }
    Some(lines)
}

/// The last `{param}` of an item path.
fn brace_param(item: &str) -> String {
    item.rsplit_once('{')
        .map_or(String::new(), |(_, p)| format!("{{{p}"))
}
