//! Self-contained HTML reports: one file that opens offline, in any browser, years later.
//!
//! Everything a report shows is inside the file: pictures and plots are embedded as base64
//! `data:` URIs, the style sheet is inline, and there is no script. A Content-Security-Policy
//! meta tag forbids every network request and every script, so a report cannot leak data when
//! opened inside a hospital network, even if some text came from an untrusted file. All text is
//! HTML-escaped. SVG plots are embedded as `<img>` rather than inline markup, which keeps them
//! inert (an SVG image cannot run script) and keeps their element ids from colliding.
//!
//! ```
//! use oncolens_report::html::Report;
//!
//! let mut report = Report::new("Case 017: lesion classification");
//! report
//!     .section("Prediction")
//!     .key_values(&[("Malignant", "0.91"), ("Model", "resnet3d-small v2")])
//!     .paragraph("Heatmap shows occlusion sensitivity.");
//! let html = report.to_html();
//! assert!(html.contains("Prediction"));
//! ```

use std::fmt::Write as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::error::{ReportError, Result};
use crate::overlay::RgbImage;
use crate::text::escape;

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The note printed under the title unless replaced with [`Report::note`].
pub const DEFAULT_NOTE: &str = "Produced by oncolens. Research software, not a medical device: \
                                findings must be confirmed by a qualified clinician.";

const CSS: &str = "\
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;line-height:1.45;\
color:#1a1a1a;max-width:1100px;margin:0 auto;padding:1.5em;background:#fff}\
header{border-bottom:2px solid #0072B2;margin-bottom:1em}\
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.3em;margin-top:1.6em;\
border-bottom:1px solid #ddd;padding-bottom:.2em}\
.note{color:#555;font-size:.9em}\
nav ol{padding-left:1.5em}nav a{color:#0072B2;text-decoration:none}\
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}\
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}\
th{background:#f0f4f8}tr:nth-child(even) td{background:#fafafa}td.num{text-align:right;\
font-variant-numeric:tabular-nums}\
table.kv th{background:#f7f7f7;font-weight:600}\
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #ddd}\
figcaption{color:#444;font-size:.9em;margin-top:.3em}\
pre{background:#f6f6f6;border:1px solid #ddd;padding:.7em;overflow-x:auto;font-size:.88em}\
.missing{color:#a00;font-style:italic}\
@media print{body{max-width:none}nav{display:none}h2{page-break-after:avoid}\
figure{page-break-inside:avoid}}";

/// One piece of content of a section.
#[derive(Debug, Clone, PartialEq)]
enum Block {
    Paragraph(String),
    Table {
        headers: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    Figure {
        caption: String,
        mime: &'static str,
        base64: String,
    },
    /// A figure that could not be embedded; shown as a visible notice instead of a broken image.
    Missing {
        caption: String,
        reason: String,
    },
    Pre(String),
    KeyValues(Vec<(String, String)>),
}

/// A titled part of a report; listed in the table of contents.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    heading: String,
    blocks: Vec<Block>,
}

impl Section {
    pub fn heading(&self) -> &str {
        &self.heading
    }

    /// A paragraph of plain text (escaped; blank lines start new paragraphs).
    pub fn paragraph(&mut self, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Paragraph(text.into()));
        self
    }

    /// A table of text cells. Numbers are formatted by the caller, who knows their precision;
    /// cells that read as numbers are right-aligned. Short rows are padded with empty cells.
    pub fn table<H, R, C>(&mut self, headers: &[H], rows: &[R]) -> &mut Self
    where
        H: AsRef<str>,
        R: AsRef<[C]>,
        C: AsRef<str>,
    {
        self.blocks.push(Block::Table {
            headers: headers.iter().map(|h| h.as_ref().to_owned()).collect(),
            rows: rows
                .iter()
                .map(|r| r.as_ref().iter().map(|c| c.as_ref().to_owned()).collect())
                .collect(),
        });
        self
    }

    /// A PNG picture, embedded as a `data:` URI. Bytes that are not a PNG become a visible
    /// notice rather than a broken image, because a report must not fail at the last step.
    pub fn image_png(&mut self, caption: impl Into<String>, png: &[u8]) -> &mut Self {
        let caption = caption.into();
        if png.starts_with(PNG_SIGNATURE) {
            self.blocks.push(Block::Figure {
                caption,
                mime: "image/png",
                base64: BASE64.encode(png),
            });
        } else {
            self.blocks.push(Block::Missing {
                caption,
                reason: "the data is not a PNG image".into(),
            });
        }
        self
    }

    /// A rendered picture (see [`crate::overlay`]), encoded to PNG and embedded.
    pub fn image(&mut self, caption: impl Into<String>, image: &RgbImage) -> &mut Self {
        let caption = caption.into();
        match image.to_png() {
            Ok(png) => self.image_png(caption, &png),
            Err(e) => {
                self.blocks.push(Block::Missing {
                    caption,
                    reason: e.to_string(),
                });
                self
            }
        }
    }

    /// An SVG document (see [`crate::plot`]), embedded as an image so that it stays inert.
    pub fn svg(&mut self, caption: impl Into<String>, svg: &str) -> &mut Self {
        let caption = caption.into();
        let head = svg.trim_start();
        if (head.starts_with("<svg") || head.starts_with("<?xml")) && svg.contains("</svg>") {
            self.blocks.push(Block::Figure {
                caption,
                mime: "image/svg+xml",
                base64: BASE64.encode(svg.as_bytes()),
            });
        } else {
            self.blocks.push(Block::Missing {
                caption,
                reason: "the data is not an SVG document".into(),
            });
        }
        self
    }

    /// Text shown as is, in a monospaced font (logs, model summaries, configuration).
    pub fn preformatted(&mut self, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Pre(text.into()));
        self
    }

    /// A two-column table of names and values (patient summary, model settings).
    pub fn key_values<K: AsRef<str>, V: AsRef<str>>(&mut self, pairs: &[(K, V)]) -> &mut Self {
        self.blocks.push(Block::KeyValues(
            pairs
                .iter()
                .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
                .collect(),
        ));
        self
    }
}

/// A report under construction: a title, a note, and sections in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    title: String,
    note: String,
    generated_at: Option<String>,
    sections: Vec<Section>,
}

impl Report {
    /// A report stamped with the current UTC time; see [`Report::generated_at`] for reproducible
    /// output.
    pub fn new(title: impl Into<String>) -> Self {
        Report {
            title: title.into(),
            note: DEFAULT_NOTE.to_owned(),
            generated_at: Some(utc_now()),
            sections: Vec::new(),
        }
    }

    pub fn title(&self) -> &str {
        &self.title
    }

    /// Replaces the note under the title (what produced the report, intended use).
    pub fn note(&mut self, text: impl Into<String>) -> &mut Self {
        self.note = text.into();
        self
    }

    /// Sets the generation time shown in the header, or removes it (`None`) so that the same
    /// inputs give byte-identical reports.
    pub fn generated_at(&mut self, when: Option<String>) -> &mut Self {
        self.generated_at = when;
        self
    }

    /// Starts a new section and returns it for filling.
    pub fn section(&mut self, heading: impl Into<String>) -> &mut Section {
        self.sections.push(Section {
            heading: heading.into(),
            blocks: Vec::new(),
        });
        let last = self.sections.len() - 1;
        &mut self.sections[last]
    }

    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// The whole report as one HTML document.
    pub fn to_html(&self) -> String {
        let mut out = String::new();
        let title = escape(&self.title);
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
             img-src data:; style-src 'unsafe-inline'\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"generator\" content=\"oncolens-report {}\">\n\
             <title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<header>\n\
             <h1>{title}</h1>\n",
            env!("CARGO_PKG_VERSION")
        );
        let mut note = escape(&self.note);
        if let Some(when) = &self.generated_at {
            let _ = write!(note, " Generated {}.", escape(when));
        }
        let _ = writeln!(out, "<p class=\"note\">{note}</p>\n</header>");

        if !self.sections.is_empty() {
            out.push_str("<nav>\n<h2>Contents</h2>\n<ol>\n");
            for (i, s) in self.sections.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "<li><a href=\"#section-{}\">{}</a></li>",
                    i + 1,
                    escape(&s.heading)
                );
            }
            out.push_str("</ol>\n</nav>\n");
        }

        let mut figure = 0usize;
        for (i, s) in self.sections.iter().enumerate() {
            let _ = writeln!(
                out,
                "<section id=\"section-{}\">\n<h2>{}</h2>",
                i + 1,
                escape(&s.heading)
            );
            for b in &s.blocks {
                render_block(&mut out, b, &mut figure);
            }
            out.push_str("</section>\n");
        }
        out.push_str("</body>\n</html>\n");
        out
    }

    /// Writes the report atomically (temporary file in the same folder, then rename), so a
    /// reader never sees half a report.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        oncolens_core::fs::write_atomic(path, self.to_html().as_bytes()).map_err(|source| {
            ReportError::Io {
                path: path.to_path_buf(),
                source,
            }
        })
    }
}

fn render_block(out: &mut String, block: &Block, figure: &mut usize) {
    match block {
        Block::Paragraph(text) => {
            for para in text.split("\n\n").filter(|p| !p.trim().is_empty()) {
                let _ = writeln!(out, "<p>{}</p>", escape(para.trim()));
            }
        }
        Block::Table { headers, rows } => {
            let cols = rows
                .iter()
                .map(Vec::len)
                .max()
                .unwrap_or(0)
                .max(headers.len());
            out.push_str("<table>\n");
            if !headers.is_empty() {
                out.push_str("<thead><tr>");
                for j in 0..cols {
                    let h = headers.get(j).map_or("", String::as_str);
                    let _ = write!(out, "<th scope=\"col\">{}</th>", escape(h));
                }
                out.push_str("</tr></thead>\n");
            }
            out.push_str("<tbody>\n");
            for row in rows {
                out.push_str("<tr>");
                for j in 0..cols {
                    let cell = row.get(j).map_or("", String::as_str);
                    let class = if looks_numeric(cell) {
                        " class=\"num\""
                    } else {
                        ""
                    };
                    let _ = write!(out, "<td{class}>{}</td>", escape(cell));
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</tbody>\n</table>\n");
        }
        Block::Figure {
            caption,
            mime,
            base64,
        } => {
            *figure += 1;
            let cap = escape(caption);
            let _ = writeln!(
                out,
                "<figure>\n<img src=\"data:{mime};base64,{base64}\" alt=\"{cap}\">\n\
                 <figcaption>Figure {}. {cap}</figcaption>\n</figure>",
                *figure
            );
        }
        Block::Missing { caption, reason } => {
            let _ = writeln!(
                out,
                "<p class=\"missing\">Figure omitted ({}): {}</p>",
                escape(reason),
                escape(caption)
            );
        }
        Block::Pre(text) => {
            let _ = writeln!(out, "<pre>{}</pre>", escape(text));
        }
        Block::KeyValues(pairs) => {
            out.push_str("<table class=\"kv\">\n<tbody>\n");
            for (k, v) in pairs {
                let _ = writeln!(
                    out,
                    "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
                    escape(k),
                    escape(v)
                );
            }
            out.push_str("</tbody>\n</table>\n");
        }
    }
}

/// True for cells such as `0.87`, `-3`, `12.5 %`, `0.87 (0.81–0.92)`: the first word is a
/// number once a trailing `%` is removed.
fn looks_numeric(cell: &str) -> bool {
    cell.split_whitespace()
        .next()
        .map(|w| w.trim_end_matches('%'))
        .is_some_and(|w| !w.is_empty() && w.parse::<f64>().is_ok_and(f64::is_finite))
}

/// The current time as `YYYY-MM-DD HH:MM UTC`, computed without a date library.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(secs)
}

/// Formats seconds since the Unix epoch (Howard Hinnant's days-to-civil algorithm).
fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14 22:13 UTC");
    }

    #[test]
    fn numeric_cells() {
        assert!(looks_numeric("0.87 (0.81–0.92)"));
        assert!(looks_numeric("12%"));
        assert!(!looks_numeric("left kidney"));
        assert!(!looks_numeric(""));
        assert!(!looks_numeric("NaN"));
    }
}
