//! The settings a running gateway binds when it starts and cannot change until it restarts:
//! the listening socket with its TLS and connection settings, the store connection and the
//! operator console (`[admin]`: its listener, credential and retention). A
//! reloaded gateway.toml is applied without them (TLS re-reads its own files anyway).

use super::Config;

impl Config {
    /// Gives the start-up settings their values from `running`, the configuration being
    /// served; returns the keys whose value in this file differed, to warn that a restart
    /// is needed for them.
    pub fn keep_restart_settings(&mut self, running: &Config) -> Vec<&'static str> {
        let mut set_aside = Vec::new();
        let (new, old) = (&mut self.server, &running.server);
        keep(
            "server.listen",
            &mut new.listen,
            &old.listen,
            &mut set_aside,
        );
        keep("server.tls", &mut new.tls, &old.tls, &mut set_aside);
        keep(
            "server.header_read_timeout_ms",
            &mut new.header_read_timeout,
            &old.header_read_timeout,
            &mut set_aside,
        );
        keep(
            "server.max_header_bytes",
            &mut new.max_header_bytes,
            &old.max_header_bytes,
            &mut set_aside,
        );
        keep(
            "server.shutdown_grace_ms",
            &mut new.shutdown_grace,
            &old.shutdown_grace,
            &mut set_aside,
        );
        keep("admin", &mut self.admin, &running.admin, &mut set_aside);
        keep(
            "store.url",
            &mut self.store_url,
            &running.store_url,
            &mut set_aside,
        );
        set_aside
    }
}

fn keep<T: PartialEq + Clone>(
    key: &'static str,
    new: &mut T,
    old: &T,
    set_aside: &mut Vec<&'static str>,
) {
    if new != old {
        set_aside.push(key);
        *new = old.clone();
    }
}

#[cfg(test)]
mod tests {
    use crate::settings::Config;

    fn parse(text: &str) -> Config {
        let env = |name: &str| match name {
            "LEGACY_URL" => Some("http://127.0.0.1:9".to_owned()),
            "LEGACY_API_KEY" | "SCIM_TOKEN" => Some("0123456789abcdef0123".to_owned()),
            _ => None,
        };
        Config::parse("gateway.toml", text, &env).unwrap()
    }

    #[test]
    fn start_up_settings_keep_their_running_values() {
        let example = crate::cli::demo::EXAMPLE_CONFIG;
        let running = parse(example);
        let mut same = parse(example);
        assert!(same.keep_restart_settings(&running).is_empty());

        let changed = example
            .replace("127.0.0.1:8080", "127.0.0.1:9090")
            .replace("max_body_bytes = 1048576", "max_body_bytes = 2048")
            + "\n[store]\nurl = \"sqlite://other.db\"\n";
        let mut new = parse(&changed);
        assert_eq!(
            new.keep_restart_settings(&running),
            ["server.listen", "store.url"]
        );
        assert_eq!(new.server.listen, running.server.listen);
        assert_eq!(new.store_url, running.store_url);
        // Everything else is taken from the new file.
        assert_eq!(new.server.max_body_bytes, 2048);
    }
}
