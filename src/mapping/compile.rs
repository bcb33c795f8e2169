//! Compiles the `[users]` attribute rules, downstream fields and search parameters of
//! gateway.toml into a [`ResourceMapping`], with errors that name the key and its line:col.

use serde_json::Value;

use super::rule::{AttributeRule, Direction, Pick, Source};
use super::target::ScimTarget;
use super::template::Template;
use super::transform::{Case, DownstreamType, ValueMap};
use super::{FieldValue, ResourceMapping, SearchParam, Unmapped};
use crate::config::error::{ConfigError, Source as ConfigSource};
use crate::config::raw::{RawResource, RawRule, RawRuleTable};
use crate::json_pointer::JsonPointer;
use crate::scim::catalog::ENTERPRISE_USER_URN;
use crate::scim::filter::CompareOp;
use crate::scim::schema::{Mutability, ResourceSchema, Returned};

impl ResourceMapping {
    /// Compiles the rules of `raw` against the catalog schema of the resource type.
    pub fn compile(
        section: &str,
        raw: &RawResource,
        catalog: ResourceSchema,
        src: &ConfigSource,
    ) -> Result<Self, ConfigError> {
        let mut rules = Vec::new();
        for (key, spanned) in &raw.attributes {
            let name = format!("{section}.attributes.{key:?}");
            let err = |m: String| src.invalid(spanned.span(), &name, m);
            let target = ScimTarget::resolve(key, &catalog).map_err(err)?;
            rules.push(compile_rule(target, spanned.get_ref(), &catalog).map_err(err)?);
        }
        let mut fields = Vec::new();
        for (key, spanned) in &raw.downstream_fields {
            let name = format!("{section}.downstream_fields.{key:?}");
            let err = |m: String| src.invalid(spanned.span(), &name, m);
            let pointer: JsonPointer = key.parse().map_err(|e| err(format!("{e}")))?;
            fields.push((
                pointer,
                compile_field(spanned.get_ref(), &catalog).map_err(err)?,
            ));
        }
        let mut search = Vec::new();
        for (key, spanned) in &raw.search {
            let name = format!("{section}.search.{key:?}");
            let err = |m: String| src.invalid(spanned.span(), &name, m);
            let (path, op) = key.trim().rsplit_once(char::is_whitespace).ok_or_else(|| {
                err("write the key as \"<attribute> <op>\", e.g. \"userName eq\"".into())
            })?;
            let op = parse_op(op).ok_or_else(|| err(format!("unknown operator {op:?}")))?;
            let target = ScimTarget::resolve(path.trim(), &catalog).map_err(err)?;
            search.push(SearchParam {
                target,
                op,
                param: spanned.get_ref().clone(),
            });
        }
        if !rules
            .iter()
            .any(|r| r.target.attr == "userName" && r.target.urn.is_none())
            && catalog.core.id.ends_with(":User")
        {
            return Err(src.invalid(
                0..0,
                &format!("{section}.attributes"),
                "map userName: SCIM clients find users by it",
            ));
        }
        Ok(Self {
            rules,
            fields,
            search,
            catalog,
            unmapped: compile_unmapped(section, raw.unmapped.as_ref(), src)?,
        })
    }
}

/// `unmapped = "store" | "ignore" | "reject"` of `[users]` or `[groups]`; `store` when absent.
pub fn compile_unmapped(
    section: &str,
    raw: Option<&crate::config::Spanned<String>>,
    src: &ConfigSource,
) -> Result<Unmapped, ConfigError> {
    raw.map_or(Ok(Unmapped::default()), |v| {
        v.get_ref()
            .parse()
            .map_err(|e: String| src.invalid(v.span(), &format!("{section}.unmapped"), e))
    })
}

fn parse_op(op: &str) -> Option<CompareOp> {
    Some(match op.to_ascii_lowercase().as_str() {
        "eq" => CompareOp::Eq,
        "ne" => CompareOp::Ne,
        "co" => CompareOp::Co,
        "sw" => CompareOp::Sw,
        "ew" => CompareOp::Ew,
        "gt" => CompareOp::Gt,
        "ge" => CompareOp::Ge,
        "lt" => CompareOp::Lt,
        "le" => CompareOp::Le,
        _ => return None,
    })
}

fn json(v: &toml::Value) -> Result<Value, String> {
    serde_json::to_value(v).map_err(|e| format!("cannot use this value: {e}"))
}

fn compile_rule(
    target: ScimTarget,
    raw: &RawRule,
    catalog: &ResourceSchema,
) -> Result<AttributeRule, String> {
    let table = match raw {
        RawRule::Pointer(p) => RawRuleTable {
            path: Some(p.clone()),
            ..RawRuleTable::default()
        },
        RawRule::Table(t) => (**t).clone(),
    };
    let source = rule_source(&table)?;
    let direction = rule_direction(&table, &source, &target)?;
    let value_map = rule_value_map(&table)?;
    let case = rule_case(&table)?;
    let downstream_type = rule_downstream_type(&table)?;
    let allowed = allowed_values(&table, &target);
    let pick = rule_pick(&table, &target, &allowed)?;
    let sensitive = table.sensitive.unwrap_or(false) || target.leaf.returned == Returned::Never;
    Ok(AttributeRule {
        source,
        direction,
        value_map,
        default: table.default.as_ref().map(json).transpose()?,
        case,
        separator: table.separator,
        downstream_type,
        required: table.required.unwrap_or(false),
        sensitive,
        allowed,
        default_from: table
            .default_from
            .as_deref()
            .map(|from| {
                ScimTarget::resolve(from, catalog).map_err(|e| format!("default_from: {e}"))
            })
            .transpose()?,
        pick,
        target,
    })
}

/// Where the value comes from: exactly one of `path`, `template`, `constant`, or
/// `store = true`.
fn rule_source(table: &RawRuleTable) -> Result<Source, String> {
    let stored = table.store.unwrap_or(false);
    Ok(match (&table.path, &table.template, &table.constant) {
        (None, None, None) if stored => Source::Stored,
        _ if stored => {
            return Err(
                "store = true keeps the value in the gateway: drop path, template and constant"
                    .into(),
            );
        }
        (Some(p), None, None) => Source::Field(p.parse().map_err(|e| format!("path: {e}"))?),
        (None, Some(t), None) => {
            let template = Template::parse(t).map_err(|e| format!("template: {e}"))?;
            for f in template.fields() {
                f.parse::<JsonPointer>()
                    .map_err(|e| format!("template placeholder {{{f}}}: {e}"))?;
            }
            Source::Template(template)
        }
        (None, None, Some(c)) => Source::Constant(json(c)?),
        _ => return Err("give exactly one of path, template, constant or store = true".into()),
    })
}

/// `direction`, read-only whatever is written where nothing can be written back (a template,
/// a constant, a read-only attribute).
fn rule_direction(
    table: &RawRuleTable,
    source: &Source,
    target: &ScimTarget,
) -> Result<Direction, String> {
    let direction = match table.direction.as_deref() {
        None | Some("read_write") => Direction::ReadWrite,
        Some("read_only") => Direction::ReadOnly,
        Some("write_only") => Direction::WriteOnly,
        Some(other) => {
            return Err(format!(
                "direction {other:?}: use read_write, read_only or write_only"
            ));
        }
    };
    if matches!(source, Source::Template(_) | Source::Constant(_))
        || target.leaf.mutability == Mutability::ReadOnly
    {
        if direction == Direction::WriteOnly {
            return Err(
                "a template, a constant or a read-only attribute cannot be write_only".into(),
            );
        }
        return Ok(Direction::ReadOnly);
    }
    Ok(direction)
}

/// `map` and `map_read`.
fn rule_value_map(table: &RawRuleTable) -> Result<Option<ValueMap>, String> {
    let Some(m) = &table.map else {
        return match table.map_read {
            Some(_) => Err("map_read needs a map".into()),
            None => Ok(None),
        };
    };
    let entries = m
        .iter()
        .map(|(k, v)| Ok((k.clone(), json(v)?)))
        .collect::<Result<Vec<_>, String>>()?;
    let extra = table
        .map_read
        .iter()
        .flatten()
        .map(|(k, v)| Ok((k.clone(), json(v)?)))
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Some(ValueMap::new(entries, extra)))
}

fn rule_case(table: &RawRuleTable) -> Result<Option<Case>, String> {
    match table.case.as_deref() {
        None => Ok(None),
        Some("lower") => Ok(Some(Case::Lower)),
        Some("upper") => Ok(Some(Case::Upper)),
        Some(other) => Err(format!("case {other:?}: use lower or upper")),
    }
}

fn rule_downstream_type(table: &RawRuleTable) -> Result<Option<DownstreamType>, String> {
    Ok(match table.downstream_type.as_deref() {
        None => None,
        Some("string") => Some(DownstreamType::String),
        Some("integer") => Some(DownstreamType::Integer),
        Some("number") => Some(DownstreamType::Number),
        Some("boolean") => Some(DownstreamType::Boolean),
        Some(other) => {
            return Err(format!(
                "downstream_type {other:?}: use string, integer, number or boolean"
            ));
        }
    })
}

/// `allowed`, or the canonical values of an attribute of an extension other than the
/// enterprise one.
fn allowed_values(table: &RawRuleTable, target: &ScimTarget) -> Vec<String> {
    match &table.allowed {
        Some(list) => list.clone(),
        None if target
            .urn
            .as_deref()
            .is_some_and(|u| u != ENTERPRISE_USER_URN) =>
        {
            target.leaf.canonical_values.clone()
        }
        None => Vec::new(),
    }
}

/// `pick` (one value of a whole multi-valued attribute), checked against `separator`, which
/// also needs a multi-valued attribute.
fn rule_pick(
    table: &RawRuleTable,
    target: &ScimTarget,
    allowed: &[String],
) -> Result<Option<Pick>, String> {
    if table.separator.is_some() && !(target.attr_def.multi_valued && target.sub.is_none()) {
        return Err("separator joins a multi-valued attribute: use it on one".into());
    }
    Ok(match table.pick.as_deref() {
        None => None,
        Some(_)
            if !(target.attr_def.multi_valued
                && target.sub.is_none()
                && target.selector.is_empty()) =>
        {
            return Err(
                "pick takes one value of a whole multi-valued attribute (e.g. roles)".into(),
            );
        }
        Some(_) if table.separator.is_some() => {
            return Err(
                "pick sends one value; separator joins them all: use one of the two".into(),
            );
        }
        Some("first") => Some(Pick::First),
        Some("highest") if allowed.is_empty() => {
            return Err(
                "pick = \"highest\" ranks by allowed: list the values, lowest first".into(),
            );
        }
        Some("highest") => Some(Pick::Highest),
        Some(other) => return Err(format!("pick {other:?}: use first or highest")),
    })
}

fn compile_field(raw: &toml::Value, catalog: &ResourceSchema) -> Result<FieldValue, String> {
    let toml::Value::String(text) = raw else {
        return Ok(FieldValue::Constant(json(raw)?));
    };
    let template = Template::parse(text).map_err(|e| e.to_string())?;
    if template.is_constant() {
        return Ok(FieldValue::Constant(Value::String(
            text.replace("{{", "{").replace("}}", "}"),
        )));
    }
    let targets = template
        .fields()
        .map(|f| Ok((f.to_owned(), ScimTarget::resolve(f, catalog)?)))
        .collect::<Result<Vec<_>, String>>()?;
    Ok(FieldValue::Template(template, targets))
}
