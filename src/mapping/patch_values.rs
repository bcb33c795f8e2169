//! The operations of a raw PATCH body (before it is parsed), for the rewrites the mapping
//! makes to client values first (free-key values as text, serialised role elements decoded).

use serde_json::Value;

/// Calls `each` with the path (if any) and the value of every operation of a PATCH body that
/// has a value; names are matched case-insensitively, as Entra capitalises them.
pub fn each_patch_value(body: &mut Value, mut each: impl FnMut(Option<&str>, &mut Value)) {
    let Some(Value::Array(operations)) = body
        .as_object_mut()
        .and_then(|b| {
            b.iter_mut()
                .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        })
        .map(|(_, v)| v)
    else {
        return;
    };
    for operation in operations.iter_mut().filter_map(Value::as_object_mut) {
        let path = operation
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("path"))
            .and_then(|(_, v)| v.as_str())
            .map(str::to_owned);
        if let Some(value) = operation
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case("value"))
            .map(|(_, v)| v)
        {
            each(path.as_deref(), value);
        }
    }
}
