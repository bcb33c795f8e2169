//! gateway.toml as written: the raw file with spans ([`raw`]), errors naming the key and its
//! line:col ([`error`]), `${NAME}` interpolation, file stamps and the file watch. A leaf: each
//! domain compiles its own section from these (downstream/settings.rs, auth/settings.rs,
//! tls/settings.rs, mapping/compile.rs) and [`crate::settings`] assembles the checked `Config`.

pub mod error;
pub mod file_text;
pub mod interpolate;
pub mod raw;
pub mod schema;
pub mod shape;
pub mod spanned;
pub mod stamp;
pub mod watch;
pub mod words;

pub use error::{ConfigError, TenantChoiceError};
pub use spanned::Spanned;

/// Expands `${NAME}` in one spanned value, naming the key on error.
pub(crate) type Interp<'a> = dyn Fn(&str, &Spanned<String>) -> Result<String, ConfigError> + 'a;

/// The rates a config may name (requests or calls per second): one per ~17 minutes up to a
/// million a second. Outside it a pace is meaningless, and its period (1 / rate) would not
/// even fit a `Duration`.
const RATES: std::ops::RangeInclusive<f64> = 0.001..=1_000_000.0;

/// How [`RATES`] reads in an error.
pub(crate) const RATE_RANGE: &str = "between 0.001 and 1000000, e.g. 20 or 0.5";

/// Whether a configured rate is one the gateway can pace by.
pub(crate) fn rate_in_range(per_second: f64) -> bool {
    RATES.contains(&per_second)
}
