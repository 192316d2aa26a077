//! Reads a mosquitto.conf the way Mosquitto 2.0 does (src/conf.c) for what
//! kerbsasl-check needs: each `plugin` block that loads kerbsasl, its
//! `plugin_opt_*` lines, the listener it belongs to, and `user`.

use std::path::{Path, PathBuf};

/// One `plugin` (or `auth_plugin`) line and the options after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginBlock {
    /// `file:line` of the plugin line.
    pub location: String,
    pub path: String,
    /// `plugin_opt_KEY VALUE` (or `auth_opt_`) pairs, without the prefix,
    /// values exactly as Mosquitto keeps them (trailing blanks included).
    pub options: Vec<(String, String)>,
    /// The listener, with `per_listener_settings true` (None: the default
    /// listener); every listener shares the block otherwise.
    pub listener: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MosquittoConf {
    pub plugins: Vec<PluginBlock>,
    pub per_listener_settings: bool,
    /// The `user` option: who Mosquitto runs as when started as root.
    pub user: Option<String>,
    /// Lines Mosquitto would refuse, as `file:line: why`.
    pub errors: Vec<String>,
}

impl MosquittoConf {
    /// The blocks whose plugin is kerbsasl (`libkerbsasl.so...`).
    pub fn kerbsasl_plugins(&self) -> Vec<&PluginBlock> {
        self.plugins
            .iter()
            .filter(|b| {
                Path::new(&b.path)
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().contains("kerbsasl"))
            })
            .collect()
    }
}

/// Reads `path` and the `include_dir` files it names.
pub fn read(path: &Path) -> Result<MosquittoConf, String> {
    let mut conf = MosquittoConf::default();
    let mut state = State::default();
    read_file(path, 0, &mut conf, &mut state)?;
    Ok(conf)
}

#[derive(Default)]
struct State {
    listener: Option<String>,
    /// Index in `plugins` of the block `plugin_opt_*` lines add to.
    current: Option<usize>,
}

fn read_file(
    path: &Path,
    level: usize,
    conf: &mut MosquittoConf,
    state: &mut State,
) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    for (index, raw) in text.lines().enumerate() {
        let location = format!("{}:{}", path.display(), index + 1);
        let line = raw.trim_end_matches(['\r', '\n']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // Mosquitto splits on spaces only; the first token is the option.
        let (token, rest) = line.split_once(' ').unwrap_or((line, ""));
        let option_prefix = ["plugin_opt_", "auth_opt_"]
            .into_iter()
            .find(|p| token.starts_with(p));
        if let Some(prefix) = option_prefix {
            let key = &token[prefix.len()..];
            let value = rest.trim_start_matches([' ', '\t']);
            match state.current {
                None => conf.errors.push(format!(
                    "{location}: {token} comes before any plugin line (Mosquitto refuses to start)"
                )),
                Some(_) if key.is_empty() || value.is_empty() => conf.errors.push(format!(
                    "{location}: {token} has an empty key or value (Mosquitto refuses to start)"
                )),
                Some(index) => conf.plugins[index]
                    .options
                    .push((key.to_string(), value.to_string())),
            }
            continue;
        }
        match token {
            "plugin" | "auth_plugin" => {
                conf.plugins.push(PluginBlock {
                    location,
                    path: rest.trim().to_string(),
                    options: Vec::new(),
                    listener: if conf.per_listener_settings {
                        state.listener.clone()
                    } else {
                        None
                    },
                });
                state.current = Some(conf.plugins.len() - 1);
            }
            "listener" => {
                let mut words = rest.split(' ').filter(|w| !w.is_empty());
                let port = words.next().unwrap_or("?");
                state.listener = Some(match words.next().filter(|w| !w.starts_with('#')) {
                    Some(address) => format!("listener {port} {address}"),
                    None => format!("listener {port}"),
                });
            }
            "per_listener_settings" => {
                conf.per_listener_settings = rest.trim() == "true";
            }
            "user" => conf.user = Some(rest.trim().to_string()),
            "include_dir" if level == 0 => {
                for file in conf_files(Path::new(rest.trim()))? {
                    read_file(&file, level + 1, conf, state)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The `*.conf` files of an include_dir, in Mosquitto's (sorted) order.
fn conf_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read include_dir {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> MosquittoConf {
        let dir = std::env::temp_dir().join(format!(
            "kerbsasl-check-mosquitto-{}-{}",
            std::process::id(),
            text.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("mosquitto.conf");
        std::fs::write(&file, text).unwrap();
        let conf = read(&file).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        conf
    }

    #[test]
    fn reads_one_block_per_listener_with_per_listener_settings() {
        let conf = parse(
            "per_listener_settings true\n\
             listener 1883\n\
             plugin /usr/lib/libkerbsasl.so\n\
             plugin_opt_principal mqtt/a@R\n\
             listener 8883 127.0.0.1\n\
             plugin /usr/lib/other.so\n\
             plugin_opt_x y\n\
             auth_plugin /usr/lib/libkerbsasl.so.1\n\
             auth_opt_keytab  /k \n",
        );
        let blocks = conf.kerbsasl_plugins();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].listener.as_deref(), Some("listener 1883"));
        assert_eq!(
            blocks[0].options,
            vec![("principal".to_string(), "mqtt/a@R".to_string())]
        );
        assert_eq!(
            blocks[1].listener.as_deref(),
            Some("listener 8883 127.0.0.1")
        );
        // Mosquitto keeps trailing blanks of option values.
        assert_eq!(
            blocks[1].options,
            vec![("keytab".to_string(), "/k ".to_string())]
        );
        assert!(blocks[1].location.ends_with(":8"));
    }

    #[test]
    fn without_per_listener_settings_blocks_are_global() {
        let conf = parse(
            "listener 1883\nplugin /l/libkerbsasl.so\nuser broker\n# plugin_opt_a b\n\
             listener 1884\nplugin_opt_keytab /k\n",
        );
        assert_eq!(conf.user.as_deref(), Some("broker"));
        let blocks = conf.kerbsasl_plugins();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].listener, None);
        assert_eq!(blocks[0].options.len(), 1);
    }

    #[test]
    fn options_before_any_plugin_are_errors() {
        let conf = parse("plugin_opt_keytab /k\nplugin /l/libkerbsasl.so\nplugin_opt_keytab\n");
        assert_eq!(conf.errors.len(), 2, "{:?}", conf.errors);
        assert!(conf.errors[0].contains(":1: plugin_opt_keytab comes before"));
        assert!(conf.errors[1].contains(":3: plugin_opt_keytab has an empty"));
    }
}
