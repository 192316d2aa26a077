//! Check results and how they are printed: one line per check as text, or
//! one JSON document.

use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    /// The word printed for it; the same in text and JSON.
    pub fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }
}

/// One check's result. Every non-ok line has a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub check: &'static str,
    pub status: Status,
    pub detail: String,
    pub hint: String,
}

impl Line {
    pub fn ok(check: &'static str, detail: impl Into<String>) -> Line {
        Line {
            check,
            status: Status::Ok,
            detail: detail.into(),
            hint: String::new(),
        }
    }

    pub fn warn(check: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Line {
        Line {
            check,
            status: Status::Warn,
            detail: detail.into(),
            hint: hint.into(),
        }
    }

    pub fn fail(check: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Line {
        Line {
            check,
            status: Status::Fail,
            detail: detail.into(),
            hint: hint.into(),
        }
    }
}

/// The checks of one configuration (one Mosquitto plugin block, one Cyrus
/// file, or the -o options).
#[derive(Debug, Clone)]
pub struct Section {
    /// Where the configuration comes from; None for -o options alone.
    pub source: Option<String>,
    pub lines: Vec<Line>,
}

pub fn worst(sections: &[Section]) -> Status {
    sections
        .iter()
        .flat_map(|s| &s.lines)
        .map(|l| l.status)
        .max()
        .unwrap_or(Status::Ok)
}

fn count(sections: &[Section], status: Status) -> usize {
    sections
        .iter()
        .flat_map(|s| &s.lines)
        .filter(|l| l.status == status)
        .count()
}

fn summary(sections: &[Section]) -> String {
    format!(
        "{} FAIL, {} warn, {} ok",
        count(sections, Status::Fail),
        count(sections, Status::Warn),
        count(sections, Status::Ok)
    )
}

/// The text report: a heading per configuration, then `status check:
/// detail`, with the fix under every non-ok line.
pub fn text(sections: &[Section]) -> String {
    let mut out = String::new();
    let width = sections
        .iter()
        .flat_map(|s| &s.lines)
        .map(|l| l.check.len())
        .max()
        .unwrap_or(0);
    for section in sections {
        if let Some(source) = &section.source {
            out.push_str(&format!("== {source}\n"));
        }
        for line in &section.lines {
            let indent = " ".repeat(6 + width + 2);
            let detail = line.detail.replace('\n', &format!("\n{indent}"));
            out.push_str(&format!(
                "{:<4}  {:<width$}  {detail}\n",
                line.status.word(),
                line.check
            ));
            if line.status != Status::Ok && !line.hint.is_empty() {
                out.push_str(&format!("{indent}fix: {}\n", line.hint));
            }
        }
    }
    out.push_str(&format!("kerbsasl-check: {}\n", summary(sections)));
    out
}

/// The JSON report: the same lines, each with its configuration.
pub fn json(sections: &[Section]) -> String {
    let checks: Vec<Value> = sections
        .iter()
        .flat_map(|section| {
            section.lines.iter().map(|line| {
                json!({
                    "config": section.source,
                    "check": line.check,
                    "status": line.status.word(),
                    "detail": line.detail,
                    "hint": if line.hint.is_empty() { Value::Null } else { json!(line.hint) },
                })
            })
        })
        .collect();
    let document = json!({
        "status": worst(sections).word(),
        "summary": {
            "FAIL": count(sections, Status::Fail),
            "warn": count(sections, Status::Warn),
            "ok": count(sections, Status::Ok),
        },
        "checks": checks,
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&document).expect("a JSON value serialises")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections() -> Vec<Section> {
        vec![Section {
            source: Some("mosquitto.conf:3".into()),
            lines: vec![
                Line::ok("options", "principal=mqtt/h@R"),
                Line::fail("keytab", "FILE:/k does not exist\nsecond line", "export it"),
            ],
        }]
    }

    #[test]
    fn text_has_one_line_per_check_and_the_fix_under_failures() {
        let text = text(&sections());
        assert_eq!(
            text,
            "== mosquitto.conf:3\n\
             ok    options  principal=mqtt/h@R\n\
             FAIL  keytab   FILE:/k does not exist\n\
             \x20              second line\n\
             \x20              fix: export it\n\
             kerbsasl-check: 1 FAIL, 0 warn, 1 ok\n"
        );
    }

    #[test]
    fn json_carries_the_same_lines() {
        let value: Value = serde_json::from_str(&json(&sections())).unwrap();
        assert_eq!(value["status"], "FAIL");
        assert_eq!(value["checks"][1]["check"], "keytab");
        assert_eq!(value["checks"][1]["hint"], "export it");
        assert_eq!(value["checks"][0]["hint"], Value::Null);
        assert_eq!(value["checks"][0]["config"], "mosquitto.conf:3");
    }
}
