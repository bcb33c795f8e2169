//! Applies a [`PatchRequest`] to a resource's JSON following RFC 7644 §3.5.2.1-3, plus the
//! Entra ID behaviours (filtered paths that create missing elements, no-path values keyed by
//! paths and URNs), checking mutability and required attributes after each operation.

use serde_json::{Map, Value};

use super::index::ElementIndex;
use super::request::kind_name;
use super::value::{coerce_attr, coerce_scalar, coerce_single};
use super::{PatchBounds, PatchError, PatchOpKind, PatchOperation, PatchRequest};
use crate::scim::attr_path::get_ci;
use crate::scim::filter::{CompValue, CompareOp, Filter, matches_value};
use crate::scim::path::{PatchPath, PatchTarget, ResolvedAttr};
use crate::scim::schema::{
    AttrType, AttributeDef, Mutability, ResourceSchema, SchemaDef, value_bound,
};

/// Applies every operation of `request` to `resource` in order, atomically: on error the
/// resource is left unchanged. Values are stored well-typed under the schema's canonical
/// attribute names and URN keys; extension objects left empty are dropped and, when the
/// resource has a `schemas` array, it is kept in step with the extensions present.
pub fn apply(
    resource: &mut Value,
    request: &PatchRequest,
    schema: &ResourceSchema,
) -> Result<(), PatchError> {
    apply_bounded(resource, request, schema, PatchBounds::default())
}

/// [`apply`], refusing (`invalidValue`, naming the bound) a value of more than
/// `bounds.max_values` elements for a multi-valued attribute, and an operation that leaves
/// one with more than that and more than it had (Group `members` excepted, see
/// [`value_bound`]).
pub fn apply_bounded(
    resource: &mut Value,
    request: &PatchRequest,
    schema: &ResourceSchema,
    bounds: PatchBounds,
) -> Result<(), PatchError> {
    let max_values = bounds.max_values;
    let mut work = resource.clone();
    let Value::Object(root) = &mut work else {
        return Err(PatchError::InvalidSyntax(
            "the resource to patch is not a JSON object".into(),
        ));
    };
    for (i, op) in request.operations.iter().enumerate() {
        apply_operation(root, op, schema, max_values)
            .map_err(|e| e.prefixed(&format!("operation {}: ", i + 1)))?;
    }
    sync_extensions(root, schema);
    *resource = work;
    Ok(())
}

/// One operation, dispatched on what its path designates.
fn apply_operation(
    root: &mut Map<String, Value>,
    op: &PatchOperation,
    schema: &ResourceSchema,
    max_values: usize,
) -> Result<(), PatchError> {
    let Some(path) = &op.path else {
        return match (op.op, &op.value) {
            (PatchOpKind::Remove, _) => Err(PatchError::NoTarget(
                "\"remove\" needs a \"path\" naming what to remove".into(),
            )),
            (_, None) => Err(missing_value(op.op)),
            (kind, Some(value)) => apply_object(root, kind, value, schema, None, 0, max_values),
        };
    };
    match path.target(schema)? {
        PatchTarget::Schema(def) => match (op.op, &op.value) {
            (PatchOpKind::Remove, _) => remove_schema(root, def, schema),
            (_, None) => Err(missing_value(op.op)),
            (kind, Some(value)) => {
                apply_object(root, kind, value, schema, Some(def), 0, max_values)
            }
        },
        PatchTarget::Attribute(resolved) => {
            apply_attribute(root, op.op, path, resolved, op.value.as_ref(), max_values)
        }
    }
}

fn no_path_needs_object(kind: PatchOpKind) -> PatchError {
    PatchError::InvalidValue(format!(
        "\"{}\" without \"path\" needs an object whose keys are attribute paths",
        kind_name(kind)
    ))
}

fn missing_value(kind: PatchOpKind) -> PatchError {
    PatchError::InvalidValue(format!("\"{}\" needs a \"value\"", kind_name(kind)))
}

/// How deep schema-URN keys may nest inside a no-path value (`{"urn:..": {"urn:..": ...}}`).
const MAX_OBJECT_NESTING: usize = 4;

/// `add`/`replace` without path (RFC 7644 §3.5.2.1, §3.5.2.3): each key of the object is an
/// attribute path. Entra ID also sends dotted keys (`name.givenName`), filtered keys
/// (`emails[type eq "work"].value`), URN-prefixed keys, and an extension URN whose value is an
/// object of that extension's attributes. `within` is the schema whose attributes the keys name
/// when the object was the value of a schema URN.
fn apply_object(
    root: &mut Map<String, Value>,
    kind: PatchOpKind,
    value: &Value,
    schema: &ResourceSchema,
    within: Option<&SchemaDef>,
    nesting: usize,
    max_values: usize,
) -> Result<(), PatchError> {
    let object = match value {
        Value::Object(map) => map,
        Value::Array(items) => match items.as_slice() {
            [one] if one.is_object() => {
                return apply_object(root, kind, one, schema, within, nesting, max_values);
            }
            _ => return Err(no_path_needs_object(kind)),
        },
        _ => return Err(no_path_needs_object(kind)),
    };
    // Each key is resolved against the schema, which an open extension widens with every
    // free key: bound them like the values of a list.
    if object.len() > max_values {
        return Err(PatchError::InvalidValue(format!(
            "the value names {} attributes, more than the {max_values} one value may name",
            object.len()
        )));
    }
    for (key, v) in object {
        if key.eq_ignore_ascii_case("schemas") {
            // Some clients echo `schemas` inside a value (even an extension's): it names no
            // attribute to change, so it is skipped rather than refused.
            continue;
        }
        let path = match within {
            // Inside an extension object, keys name that extension's attributes.
            Some(def)
                if !def.id.eq_ignore_ascii_case(&schema.core.id)
                    && !key.trim_start().to_ascii_lowercase().starts_with("urn:") =>
            {
                let mut path: PatchPath = key.parse()?;
                path.attr.urn = Some(def.id.clone());
                path
            }
            _ => PatchPath::parse_in(key, schema)?,
        };
        match path.target(schema)? {
            PatchTarget::Schema(def) => {
                if nesting >= MAX_OBJECT_NESTING || !v.is_object() {
                    return Err(PatchError::InvalidValue(format!(
                        "the value of \"{key}\" must be an object of the attributes of {}",
                        def.id
                    )));
                }
                apply_object(root, kind, v, schema, Some(def), nesting + 1, max_values)?;
            }
            PatchTarget::Attribute(resolved) => {
                apply_attribute(root, kind, &path, resolved, Some(v), max_values)?;
            }
        }
    }
    Ok(())
}

/// Removes a whole extension object (path = extension URN).
fn remove_schema(
    root: &mut Map<String, Value>,
    def: &SchemaDef,
    schema: &ResourceSchema,
) -> Result<(), PatchError> {
    if def.id.eq_ignore_ascii_case(&schema.core.id) {
        return Err(PatchError::InvalidPath(format!(
            "the core schema '{}' cannot be removed; remove its attributes one by one",
            def.id
        )));
    }
    let Some(key) = get_ci(root, &def.id).map(|(k, _)| k.clone()) else {
        return Ok(());
    };
    if let Some(Value::Object(ext)) = root.get(&key)
        && let Some(required) = def
            .attributes
            .iter()
            .find(|a| a.required && get_ci(ext, &a.name).is_some_and(|(_, v)| is_assigned(v)))
    {
        return Err(PatchError::InvalidValue(format!(
            "extension '{}' has the required attribute '{}'; replace it instead of removing the extension",
            def.id, required.name
        )));
    }
    root.shift_remove(&key);
    Ok(())
}

/// An operation on one attribute, followed by the checks that need the before/after values:
/// read-only attributes must not change, immutable ones not once set (RFC 7643 §7), and
/// required ones must stay assigned.
fn apply_attribute(
    root: &mut Map<String, Value>,
    kind: PatchOpKind,
    path: &PatchPath,
    resolved: ResolvedAttr<'_>,
    value: Option<&Value>,
    max_values: usize,
) -> Result<(), PatchError> {
    let attr = resolved.attr;
    let display = path.to_string();
    let bound = value_bound(attr, max_values);
    if let (Some(max), Some(Value::Array(items))) = (bound, value)
        && items.len() > max
    {
        return Err(too_many_values(&attr.name, "has", items.len(), max));
    }
    if let Some(sub) = resolved.sub
        && sub.mutability == Mutability::ReadOnly
    {
        return Err(PatchError::Mutability(format!(
            "sub-attribute '{}.{}' is read-only; the server maintains it",
            attr.name, sub.name
        )));
    }
    let container = match resolved.extension {
        None => root,
        Some(ext) => match extension_object(root, ext, kind != PatchOpKind::Remove)? {
            Some(container) => container,
            None => return Ok(()),
        },
    };
    let old = get_ci(container, &attr.name).map(|(_, v)| v.clone());
    let target = Target {
        attr,
        sub: resolved.sub,
        filter: path.filter.as_ref(),
        display: &display,
    };
    match kind {
        PatchOpKind::Add | PatchOpKind::Replace => {
            let value = value.ok_or_else(|| missing_value(kind))?;
            write(container, kind, &target, value)?;
        }
        PatchOpKind::Remove => remove(container, &target, value)?,
    }
    tidy(container, &attr.name);
    check_change(attr, bound, old.as_ref(), container.get(&attr.name))
}

/// The checks of one attribute's change from `old` to `new`: no more values than `bound`
/// where the operation added some, read-only attributes unchanged, immutable ones unchanged
/// once set, required ones still assigned.
fn check_change(
    attr: &AttributeDef,
    bound: Option<usize>,
    old: Option<&Value>,
    new: Option<&Value>,
) -> Result<(), PatchError> {
    if let (Some(max), Some(Value::Array(items))) = (bound, new) {
        let before = match old {
            Some(Value::Array(was)) => was.len(),
            _ => 0,
        };
        if items.len() > max && items.len() > before {
            return Err(too_many_values(&attr.name, "would hold", items.len(), max));
        }
    }
    if old == new {
        return Ok(());
    }
    let was_assigned = old.is_some_and(is_assigned);
    match attr.mutability {
        Mutability::ReadOnly => {
            return Err(PatchError::Mutability(format!(
                "attribute '{}' is read-only; the server maintains it",
                attr.name
            )));
        }
        Mutability::Immutable if was_assigned => {
            return Err(PatchError::Mutability(format!(
                "attribute '{}' is immutable and already set; it cannot be changed",
                attr.name
            )));
        }
        _ => {}
    }
    if attr.required && was_assigned && !new.is_some_and(is_assigned) {
        return Err(PatchError::InvalidValue(format!(
            "attribute '{}' is required; replace it with a new value instead of removing it",
            attr.name
        )));
    }
    Ok(())
}

/// The error for a value list over [`MAX_VALUES`](crate::scim::schema::MAX_VALUES).
fn too_many_values(name: &str, verb: &str, count: usize, max: usize) -> PatchError {
    PatchError::InvalidValue(format!(
        "attribute '{name}' {verb} {count} values, more than the {max} one multi-valued \
         attribute may hold"
    ))
}

/// What an operation addresses within the container (the resource or an extension object).
struct Target<'a> {
    attr: &'a AttributeDef,
    /// The effective sub-attribute (`name.givenName`, or `.value` after a value filter).
    sub: Option<&'a AttributeDef>,
    filter: Option<&'a Filter>,
    /// The path as written, for messages.
    display: &'a str,
}

/// `add` (RFC 7644 §3.5.2.1) and `replace` (§3.5.2.3), which differ only for whole attributes.
fn write(
    container: &mut Map<String, Value>,
    kind: PatchOpKind,
    t: &Target<'_>,
    value: &Value,
) -> Result<(), PatchError> {
    let attr = t.attr;
    if let Some(filter) = t.filter {
        return write_filtered(container, kind, t, filter, value);
    }
    if let Some(sub) = t.sub {
        let v = coerce_attr(sub, value, t.display)?;
        return write_sub_everywhere(container, attr, sub, v);
    }
    let v = coerce_attr(attr, value, &attr.name)?;
    let slot = slot(container, &attr.name);
    if attr.multi_valued {
        let new_items = match v {
            Value::Array(items) => items,
            _ => Vec::new(),
        };
        let mut items = match kind {
            PatchOpKind::Replace => Vec::new(),
            _ => take_array(slot),
        };
        let mut touched = Vec::new();
        let mut index = ElementIndex::of(attr, &items, new_items.len());
        for item in new_items {
            let item = strip_nulls(item);
            let empty = item.as_object().is_some_and(Map::is_empty);
            if !empty && !holds(&items, &index, &item, attr) {
                index.insert(items.len(), &item);
                touched.push(items.len());
                items.push(item);
            }
        }
        enforce_single_primary(&mut items, &touched);
        *slot = Value::Array(items);
    } else if attr.attr_type == AttrType::Complex {
        match (kind, v) {
            (_, Value::Object(new)) => merge_complex(slot, attr, new),
            (PatchOpKind::Replace, _) => *slot = Value::Null,
            _ => {}
        }
    } else if !(v.is_null() && kind == PatchOpKind::Add) {
        *slot = v;
    }
    Ok(())
}

/// Sets `sub` on a single-valued complex attribute, or on every element of a multi-valued one
/// (creating one element if there is none); `null` unassigns it.
fn write_sub_everywhere(
    container: &mut Map<String, Value>,
    attr: &AttributeDef,
    sub: &AttributeDef,
    v: Value,
) -> Result<(), PatchError> {
    let slot = slot(container, &attr.name);
    if attr.multi_valued {
        let mut items = take_array(slot);
        if items.is_empty() && !v.is_null() {
            let mut element = Map::new();
            element.insert(sub.name.clone(), v);
            items.push(Value::Object(element));
        } else {
            for item in items.iter_mut() {
                if let Value::Object(element) = item {
                    set_sub(element, attr, sub, &v)?;
                }
            }
        }
        *slot = Value::Array(items);
    } else {
        let mut object = match std::mem::take(slot) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let old_value = get_ci(&object, "value").map(|(_, v)| v.clone());
        set_sub(&mut object, attr, sub, &v)?;
        drop_stale_derived(&mut object, attr, old_value.as_ref(), &[sub.name.as_str()]);
        *slot = Value::Object(object);
    }
    Ok(())
}

/// Sets (or with `null` removes) one sub-attribute of an element, refusing to change an
/// immutable sub-attribute that already has a different value.
fn set_sub(
    element: &mut Map<String, Value>,
    attr: &AttributeDef,
    sub: &AttributeDef,
    v: &Value,
) -> Result<(), PatchError> {
    let old = get_ci(element, &sub.name).map(|(_, v)| v);
    if sub.mutability == Mutability::Immutable && old.is_some_and(is_assigned) && old != Some(v) {
        return Err(PatchError::Mutability(format!(
            "sub-attribute '{}.{}' is immutable and already set; it cannot be changed",
            attr.name, sub.name
        )));
    }
    if v.is_null() {
        remove_ci(element, &sub.name);
    } else {
        insert_canonical(element, &sub.name, v.clone());
    }
    Ok(())
}

/// `add`/`replace` on `attr[filter]` or `attr[filter].sub`: updates every matching element
/// (RFC 7644 §3.5.2.3). When none matches, the RFC answers `noTarget`, but Entra ID expects the
/// element to be created (e.g. the first `emails[type eq "work"].value`), so it is built from
/// the filter's `sub eq value` conditions plus the new value.
fn write_filtered(
    container: &mut Map<String, Value>,
    kind: PatchOpKind,
    t: &Target<'_>,
    filter: &Filter,
    value: &Value,
) -> Result<(), PatchError> {
    let attr = t.attr;
    let new = match t.sub {
        Some(sub) => coerce_attr(sub, value, t.display)?,
        None => {
            let single = match value {
                Value::Array(items) => match items.as_slice() {
                    [one] => one,
                    _ => value,
                },
                other => other,
            };
            coerce_single(attr, single, t.display)?
        }
    };
    let slot = slot(container, &attr.name);
    let mut items = take_array(slot);
    let mut touched = Vec::new();
    let mut result = Ok(());
    for (i, item) in items.iter_mut().enumerate() {
        if !matches_value(filter, item, attr) {
            continue;
        }
        touched.push(i);
        if let Value::Object(element) = item {
            result = match (t.sub, &new) {
                (Some(sub), v) => set_sub(element, attr, sub, v),
                (None, Value::Object(fields)) => merge_fields(element, attr, fields.clone()),
                (None, _) => Ok(()),
            };
            if result.is_err() {
                break;
            }
        }
    }
    if touched.is_empty() && !new.is_null() {
        let mut element = element_from_filter(filter, attr, t.display, kind)?;
        match (t.sub, new) {
            (Some(sub), v) => insert_canonical(&mut element, &sub.name, v),
            (None, Value::Object(fields)) => merge_fields(&mut element, attr, fields)?,
            (None, _) => {}
        }
        touched.push(items.len());
        items.push(Value::Object(element));
    }
    enforce_single_primary(&mut items, &touched);
    *slot = Value::Array(items);
    result
}

/// Builds a new element of `attr` from a filter made of `sub eq value` terms joined by `and`.
fn element_from_filter(
    filter: &Filter,
    attr: &AttributeDef,
    display: &str,
    kind: PatchOpKind,
) -> Result<Map<String, Value>, PatchError> {
    let mut element = Map::new();
    if collect_equalities(filter, attr, &mut element)? {
        return Ok(element);
    }
    Err(PatchError::NoTarget(format!(
        "no value of '{}' matches '{display}', and a new one can only be created from \
         'sub eq value' conditions joined by 'and'; use a simpler filter or \"{}\" the whole value",
        attr.name,
        kind_name(kind)
    )))
}

/// Adds the filter's equalities to `element`; `false` when the filter has other shapes.
fn collect_equalities(
    filter: &Filter,
    attr: &AttributeDef,
    element: &mut Map<String, Value>,
) -> Result<bool, PatchError> {
    match filter {
        Filter::And(a, b) => {
            Ok(collect_equalities(a, attr, element)? && collect_equalities(b, attr, element)?)
        }
        Filter::Compare(path, CompareOp::Eq, value) if path.urn.is_none() && path.sub.is_none() => {
            let Some(sub) = attr
                .sub_attributes
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(&path.name))
            else {
                return Ok(false);
            };
            let json = match value {
                CompValue::Null => return Ok(false),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Str(s) => Value::String(s.clone()),
            };
            let name = format!("{}.{}", attr.name, sub.name);
            insert_canonical(element, &sub.name, coerce_scalar(sub, &json, &name)?);
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// `remove` (RFC 7644 §3.5.2.2). Removing something absent succeeds. With a `value` on a
/// multi-valued attribute (Entra ID: `{"op":"Remove","path":"members","value":[{"value":"id"}]}`)
/// only the listed values are removed.
fn remove(
    container: &mut Map<String, Value>,
    t: &Target<'_>,
    value: Option<&Value>,
) -> Result<(), PatchError> {
    let attr = t.attr;
    if let Some(sub) = t.sub
        && sub.required
    {
        return Err(PatchError::InvalidValue(format!(
            "sub-attribute '{}.{}' is required; replace it instead of removing it",
            attr.name, sub.name
        )));
    }
    let Some((key, _)) = get_ci(container, &attr.name) else {
        return Ok(());
    };
    let key = key.clone();
    match (t.filter, t.sub) {
        (None, None) => match value {
            Some(v) if attr.multi_valued && !v.is_null() => {
                let listed = match coerce_attr(attr, v, &attr.name)? {
                    Value::Array(items) => items,
                    _ => Vec::new(),
                };
                let slot = slot(container, &attr.name);
                let mut items = take_array(slot);
                let index = ElementIndex::of(attr, &listed, 0);
                items.retain(|e| !listed_in(&listed, &index, e, attr));
                *slot = Value::Array(items);
            }
            _ => {
                container.shift_remove(&key);
            }
        },
        (filter, sub) => {
            let slot = slot(container, &attr.name);
            let mut items = if attr.multi_valued {
                take_array(slot)
            } else {
                vec![std::mem::take(slot)]
            };
            let selected = |e: &Value| filter.is_none_or(|f| matches_value(f, e, attr));
            match sub {
                None => items.retain(|e| !selected(e)),
                Some(sub) => {
                    for item in items.iter_mut() {
                        if selected(item)
                            && let Value::Object(element) = item
                        {
                            remove_ci(element, &sub.name);
                        }
                    }
                    items.retain(|e| e.as_object().is_none_or(|m| !m.is_empty()));
                }
            }
            *slot = if attr.multi_valued {
                Value::Array(items)
            } else {
                items.pop().unwrap_or_default()
            };
        }
    }
    Ok(())
}

/// Merges a coerced complex value into a single-valued complex attribute (RFC 7644 §3.5.2.3:
/// sub-attributes not given are left unchanged; `null` ones are removed).
fn merge_complex(slot: &mut Value, attr: &AttributeDef, new: Map<String, Value>) {
    let mut object = match std::mem::take(slot) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let old_value = get_ci(&object, "value").map(|(_, v)| v.clone());
    let given: Vec<String> = new.keys().cloned().collect();
    for (k, v) in new {
        if v.is_null() {
            remove_ci(&mut object, &k);
        } else {
            insert_canonical(&mut object, &k, v);
        }
    }
    let given: Vec<&str> = given.iter().map(String::as_str).collect();
    drop_stale_derived(&mut object, attr, old_value.as_ref(), &given);
    *slot = Value::Object(object);
}

/// Merges coerced fields into an existing element of a multi-valued attribute, refusing
/// changes to immutable sub-attributes.
fn merge_fields(
    element: &mut Map<String, Value>,
    attr: &AttributeDef,
    fields: Map<String, Value>,
) -> Result<(), PatchError> {
    for (k, v) in fields {
        if let Some(sub) = attr.sub_attributes.iter().find(|s| s.name == k) {
            set_sub(element, attr, sub, &v)?;
        }
    }
    Ok(())
}

/// When a complex attribute's `value` changes (e.g. a new `manager` id), its read-only
/// sub-attributes and `$ref` describe the old value (`manager.displayName`), so they are
/// dropped unless the same request supplied them.
fn drop_stale_derived(
    object: &mut Map<String, Value>,
    attr: &AttributeDef,
    old_value: Option<&Value>,
    given: &[&str],
) {
    let new_value = get_ci(object, "value").map(|(_, v)| v);
    if old_value.is_none() || old_value == new_value {
        return;
    }
    for sub in &attr.sub_attributes {
        let derived = sub.mutability == Mutability::ReadOnly || sub.name == "$ref";
        if derived && !given.iter().any(|g| g.eq_ignore_ascii_case(&sub.name)) {
            remove_ci(object, &sub.name);
        }
    }
}

/// Whether one of `items` (indexed by `index`) already holds `item`, as [`contains`] says.
fn holds(items: &[Value], index: &ElementIndex<'_>, item: &Value, attr: &AttributeDef) -> bool {
    match index.may_hold(item) {
        Some(mut candidates) => {
            candidates.any(|i| items.get(i).is_some_and(|e| contains(e, item, attr)))
        }
        None => items.iter().any(|e| contains(e, item, attr)),
    }
}

/// Whether `element` holds one of the `listed` values (indexed by `index`).
fn listed_in(
    listed: &[Value],
    index: &ElementIndex<'_>,
    element: &Value,
    attr: &AttributeDef,
) -> bool {
    index
        .may_be_held(element)
        .any(|i| listed.get(i).is_some_and(|l| contains(element, l, attr)))
}

/// Whether element `existing` already holds `item`: equal JSON, or for complex values every
/// member of `item` equal in `existing` (so `{"value":"id"}` matches a member with a display).
/// Strings compare honouring the (sub-)attribute's caseExact.
fn contains(existing: &Value, item: &Value, attr: &AttributeDef) -> bool {
    if existing == item {
        return true;
    }
    match (existing, item) {
        (Value::Object(e), Value::Object(i)) if !i.is_empty() => i.iter().all(|(k, v)| {
            let sub = attr
                .sub_attributes
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(k));
            get_ci(e, k).is_some_and(|(_, ev)| same_scalar(ev, v, sub.unwrap_or(attr)))
        }),
        (e, i) => same_scalar(e, i, attr),
    }
}

/// JSON equality, case-insensitive for strings of a non-caseExact attribute.
fn same_scalar(a: &Value, b: &Value, def: &AttributeDef) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) if !def.case_exact => {
            x.to_lowercase() == y.to_lowercase()
        }
        _ => a == b,
    }
}

/// RFC 7643 §2.4: at most one element may have `primary` true. If one of the `touched`
/// elements is primary, `primary` is cleared on every other element.
fn enforce_single_primary(items: &mut [Value], touched: &[usize]) {
    let is_primary = |v: &Value| {
        v.as_object()
            .and_then(|m| get_ci(m, "primary"))
            .is_some_and(|(_, p)| p == &Value::Bool(true))
    };
    let Some(keep) = touched
        .iter()
        .rev()
        .copied()
        .find(|i| items.get(*i).is_some_and(is_primary))
    else {
        return;
    };
    for (i, item) in items.iter_mut().enumerate() {
        if i != keep
            && let Value::Object(m) = item
            && let Some((k, _)) = get_ci(m, "primary")
        {
            let k = k.clone();
            m.insert(k, Value::Bool(false));
        }
    }
}

/// The extension object under its canonical URN key, created when `create` is set; `None`
/// when absent and not created.
fn extension_object<'m>(
    root: &'m mut Map<String, Value>,
    ext: &SchemaDef,
    create: bool,
) -> Result<Option<&'m mut Map<String, Value>>, PatchError> {
    let present = get_ci(root, &ext.id).is_some_and(|(_, v)| !v.is_null());
    if !present && !create {
        return Ok(None);
    }
    let slot = slot(root, &ext.id);
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(m) => Ok(Some(m)),
        _ => Err(PatchError::InvalidValue(format!(
            "the resource's \"{}\" member is not an object; replace the extension with an object",
            ext.id
        ))),
    }
}

/// The value stored under `name`, moving a differently-cased key to the canonical name and
/// inserting `null` when absent (removed again by [`tidy`] if still unassigned).
fn slot<'m>(container: &'m mut Map<String, Value>, name: &str) -> &'m mut Value {
    canonicalize_key(container, name);
    container.entry(name.to_string()).or_insert(Value::Null)
}

/// Renames a key equal to `name` case-insensitively to `name`, keeping its position.
fn canonicalize_key(container: &mut Map<String, Value>, name: &str) {
    if container.contains_key(name) {
        return;
    }
    let Some((index, key)) = container
        .keys()
        .enumerate()
        .find(|(_, k)| k.eq_ignore_ascii_case(name))
        .map(|(i, k)| (i, k.clone()))
    else {
        return;
    };
    let Some(value) = container.shift_remove(&key) else {
        return;
    };
    container.shift_insert(index, name.to_string(), value);
}

/// Inserts `value` under the canonical `name`, replacing any differently-cased key.
fn insert_canonical(container: &mut Map<String, Value>, name: &str, value: Value) {
    *slot(container, name) = value;
}

/// Removes every key equal to `name` case-insensitively.
fn remove_ci(container: &mut Map<String, Value>, name: &str) {
    container.retain(|k, _| !k.eq_ignore_ascii_case(name));
}

/// Removes `name` from the container when it is unassigned (null, `[]` or `{}`).
fn tidy(container: &mut Map<String, Value>, name: &str) {
    if container.get(name).is_some_and(|v| !is_assigned(v)) {
        container.shift_remove(name);
    }
}

/// RFC 7643 §2.5: null and empty arrays (and empty complex values) are unassigned.
fn is_assigned(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
        _ => true,
    }
}

/// The elements of a multi-valued attribute's slot, taking them out (a stray single value
/// becomes one element).
fn take_array(slot: &mut Value) -> Vec<Value> {
    match std::mem::take(slot) {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// A new element without the `null` members that meant "unassign" during coercion.
fn strip_nulls(mut item: Value) -> Value {
    if let Value::Object(m) = &mut item {
        m.retain(|_, v| !v.is_null());
    }
    item
}

/// After all operations: drops empty extension objects, stores extensions under their
/// canonical URN, and keeps an existing `schemas` array listing exactly the extensions present
/// (RFC 7643 §3).
fn sync_extensions(root: &mut Map<String, Value>, schema: &ResourceSchema) {
    let mut present = Vec::new();
    for ext in &schema.extensions {
        canonicalize_key(root, &ext.id);
        tidy(root, &ext.id);
        present.push((ext.id.as_str(), root.contains_key(&ext.id)));
    }
    let Some(Value::Array(schemas)) = root.get_mut("schemas") else {
        return;
    };
    for (urn, is_present) in present {
        let listed = schemas
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
        if is_present && !listed {
            schemas.push(Value::String(urn.to_string()));
        } else if !is_present && listed {
            schemas.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
        }
    }
}
