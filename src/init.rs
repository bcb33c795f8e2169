//! `scim-gateway init`: a first, commented gateway.toml written from the product's OpenAPI
//! 3.0/3.1 or Swagger 2.0 document, so a vendor starts from the API's own description instead
//! of a blank file. Every guessed value says how sure it is and why; the file is checked as
//! `check --allow-missing-env` would before it is written.

mod attributes;
mod auth;
mod document;
mod error;
mod fields;
mod groups;
mod guess;
mod listing;
mod record;
mod resource;
mod search;
mod writer;

use std::path::PathBuf;

pub use document::ApiDocument;
pub use error::InitError;

use attributes::Placement;
use auth::AuthGuess;
use guess::{Confidence, Reason};
use listing::ListGuess;
use resource::Resource;
use search::SearchGuess;

/// `scim-gateway init`'s options.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The product's OpenAPI 3.0/3.1 or Swagger 2.0 document, YAML or JSON.
    #[arg(long)]
    pub openapi: PathBuf,
    /// The resource to map as SCIM Users (its collection's name, e.g. `users`, or its path),
    /// when several look like people.
    #[arg(long)]
    pub resource: Option<String>,
    /// Where to write the file.
    #[arg(short = 'o', long, default_value = "gateway.toml")]
    pub output: PathBuf,
    /// Overwrite the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Everything guessed from the document, ready to be written.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The document's file name, for the header.
    pub source: String,
    pub version: String,
    pub title: Option<String>,
    pub origin: Option<String>,
    /// The server's path, prefixed to every operation.
    pub base_path: String,
    pub resource: Resource,
    pub others: Vec<Resource>,
    pub create: (String, Reason),
    pub read: (String, Reason),
    pub update: (String, Reason),
    pub delete: (String, Reason),
    pub list: Option<ListGuess>,
    pub search: Vec<SearchGuess>,
    pub auth: AuthGuess,
    pub placement: Placement,
    pub groups: Option<Vec<String>>,
}

impl Draft {
    /// Reads `doc` (named `source` in the header) and guesses every section.
    pub fn from_document(
        doc: &ApiDocument,
        source: &str,
        wanted: Option<&str>,
    ) -> Result<Self, InitError> {
        let (resource, others) = resource::choose(doc, wanted)?;
        let base = doc.base_path();
        let collection = format!("{base}{}", resource.collection);
        let item = item_with_id(&format!("{base}{}", resource.item));
        let sure = |why: &str| Reason::new(Confidence::High, why);
        let (update, delete) = update_and_delete(doc, &resource, &item);
        let placement = attributes::place(&resource.fields, &resource.record.id.0);
        if delete.0 == "deactivate" && !placement.rules.iter().any(|r| r.scim == "active") {
            return Err(InitError::NoDelete(resource.item.clone()));
        }
        let list = listing::list_guess(doc, &resource.collection, &collection);
        let search = list
            .as_ref()
            .map(|l| search::search_guess(&l.filters, &placement))
            .unwrap_or_default();
        let groups = groups::downstream_lines(&others, &doc.paths(), &base);
        Ok(Self {
            source: source.to_owned(),
            version: doc.version(),
            title: doc.title().map(str::to_owned),
            origin: doc.server_origin(),
            create: (format!("POST {collection}"), sure("POST on the collection")),
            read: (format!("GET {item}"), sure("GET on the item")),
            update,
            delete,
            list,
            search,
            auth: auth::auth_guess(doc),
            placement,
            groups,
            base_path: base,
            resource,
            others,
        })
    }

    /// The gateway.toml text.
    pub fn render(&self) -> String {
        writer::render(self)
    }

    /// The variables the file reads, for the summary.
    pub fn variables(&self) -> Vec<&'static str> {
        let mut vars = vec![auth::URL_VAR];
        vars.extend(self.auth.vars.iter().copied());
        vars.push("SCIM_TOKEN");
        vars
    }

    /// What was written and what to do next, for the terminal.
    pub fn summary(&self, output: &str) -> String {
        let count = |c: Confidence| {
            self.placement
                .rules
                .iter()
                .filter(|r| r.reason.confidence == c)
                .count()
        };
        let paging = self
            .list
            .as_ref()
            .map_or("no list".to_owned(), |l| listing::describe(&l.paging));
        let others: Vec<&str> = self.others.iter().map(|r| r.name.as_str()).collect();
        let unplaced: Vec<&str> = self
            .placement
            .unplaced
            .iter()
            .map(|f| f.pointer.as_str())
            .collect();
        format!(
            "wrote {output} from {} ({})\n\
             \x20 users: {} -> {}, {}, {}, {}{}\n\
             \x20 record: id {}, envelope {}; list paging: {paging}\n\
             \x20 auth: {}\n\
             \x20 attributes: {} rules ({} sure, {} likely, {} a guess); unplaced fields: {}\n\
             \x20 set before running: {}\n\
             next:\n\
             \x20 1. read the comments marked \"likely\" and \"a guess\" in {output}\n\
             \x20 2. scim-gateway check --config {output} --allow-missing-env\n\
             \x20 3. with the variables set: scim-gateway explain --config {output} -X POST /Users -d @user.json\n\
             \x20 4. scim-gateway serve --config {output}, then scim-gateway verify --url http://127.0.0.1:8080/scim/v2 (token from SCIM_TOKEN)\n",
            self.source,
            self.version,
            self.resource.collection,
            self.create.0,
            self.read.0,
            self.update.0,
            self.delete.0,
            if others.is_empty() {
                String::new()
            } else {
                format!(
                    " (other resources: {}; --resource picks)",
                    others.join(", ")
                )
            },
            self.resource.record.id.0,
            self.resource
                .record
                .envelope
                .as_ref()
                .map_or("none".to_owned(), |(e, _)| format!("/{e}")),
            self.auth.reason.why,
            self.placement.rules.len(),
            count(Confidence::High),
            count(Confidence::Medium),
            count(Confidence::Low),
            if unplaced.is_empty() {
                "none".to_owned()
            } else {
                unplaced.join(", ")
            },
            self.variables().join(", "),
        )
    }
}

/// The update call (PATCH when offered, else PUT) and the delete (DELETE, else deactivate).
fn update_and_delete(
    doc: &ApiDocument,
    resource: &Resource,
    item: &str,
) -> ((String, Reason), (String, Reason)) {
    let sure = |why: &str| Reason::new(Confidence::High, why);
    let update = if resource.item_has(doc, "patch") {
        let also = if resource.item_has(doc, "put") {
            "; PUT is offered too (the whole record)"
        } else {
            ""
        };
        (
            format!("PATCH {item}"),
            Reason::new(
                Confidence::Medium,
                format!(
                    "the document offers PATCH: the gateway sends the changed fields only, right if the API merges them{also}"
                ),
            ),
        )
    } else if resource.item_has(doc, "put") {
        (
            format!("PUT {item}"),
            sure("PUT is the only update: the gateway sends the whole record"),
        )
    } else {
        (
            format!("PUT {item}"),
            Reason::new(
                Confidence::Low,
                "the document describes no update: PUT assumed",
            ),
        )
    };
    let delete = if resource.item_has(doc, "delete") {
        (format!("DELETE {item}"), sure("DELETE on the item"))
    } else {
        (
            "deactivate".to_owned(),
            Reason::new(
                Confidence::Medium,
                "no DELETE: a deleted SCIM user is set inactive",
            ),
        )
    };
    (update, delete)
}

/// The item path with its parameter renamed `{id}`, as gateway.toml operations want it.
fn item_with_id(item: &str) -> String {
    match item.rsplit_once('{') {
        Some((head, _)) => format!("{head}{{id}}"),
        None => item.to_owned(),
    }
}

/// Runs `scim-gateway init`: reads the document, writes the file (checked first), and returns
/// the summary to print.
pub fn run(args: &InitArgs) -> Result<String, InitError> {
    let path = args.openapi.display().to_string();
    let text = std::fs::read_to_string(&args.openapi).map_err(|source| InitError::Read {
        path: path.clone(),
        source,
    })?;
    let doc = ApiDocument::parse(&text)?;
    let source = args
        .openapi
        .file_name()
        .map_or(path.clone(), |n| n.to_string_lossy().into_owned());
    let draft = Draft::from_document(&doc, &source, args.resource.as_deref())?;
    let rendered = draft.render();
    let output = args.output.display().to_string();
    crate::settings::Config::parse(&output, &rendered, &crate::config::interpolate::stand_in)
        .map_err(|e| InitError::Unchecked(e.to_string()))?;
    if args.output.exists() && !args.force {
        return Err(InitError::Exists(output));
    }
    std::fs::write(&args.output, rendered).map_err(|source| InitError::Write {
        path: output.clone(),
        source,
    })?;
    Ok(draft.summary(&output))
}

#[cfg(test)]
mod tests;
