//! index.html: one page that shows the whole report, readable offline and when the directory is
//! moved, since it links only to the images beside it.

use super::figures::WrittenPlot;
use super::{text, Metrics};

const STYLE: &str = "body { font-family: sans-serif; margin: 2em; color: #262626; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { padding: 0.25em 0.8em; border-bottom: 1px solid #ddd; }
td { text-align: right; font-family: monospace; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 0 0 2.5em 0; }
img { max-width: 100%; border: 1px solid #eee; }";

pub(super) fn page(metrics: &Metrics, plots: &[WrittenPlot]) -> String {
    let mut html = String::new();
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.push_str("<title>Reconstruction report</title>\n");
    html.push_str(&format!("<style>\n{STYLE}\n</style>\n</head>\n<body>\n"));
    html.push_str("<h1>Reconstruction report</h1>\n");
    html.push_str(&format!("<p>{}</p>\n", escape(&text::introduction(metrics))));
    if let Some(compression) = &metrics.compression {
        html.push_str(&format!("<h2>Compression</h2>\n<p>{}</p>\n", escape(&text::compression_text(compression))));
    }
    html.push_str(&format!("<h2>Overall</h2>\n<p>{}</p>\n", escape(&text::overall_text(&metrics.overall))));
    html.push_str("<h2>Per column</h2>\n");
    html.push_str(&table(text::headers(), &text::column_rows(metrics)));
    for plot in plots {
        html.push_str(&figure(plot));
    }
    html.push_str("</body>\n</html>\n");
    html
}

/// The side-by-side table as preformatted text, a link to every reconstruction's report, and
/// the overlaid plots.
pub(super) fn comparison_page(runs: &[super::side_by_side::Labelled], table: &str, plots: &[WrittenPlot]) -> String {
    let mut html = String::new();
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.push_str("<title>Reconstructions compared</title>\n");
    html.push_str(&format!("<style>\n{STYLE}\n</style>\n</head>\n<body>\n"));
    html.push_str("<h1>Reconstructions compared</h1>\n<ul>\n");
    for run in runs {
        let label = escape(&run.label);
        html.push_str(&format!("<li><a href=\"{label}/index.html\">{label}</a>: its full report</li>\n"));
    }
    html.push_str(&format!("</ul>\n<pre>{}</pre>\n", escape(table)));
    for plot in plots {
        html.push_str(&figure(plot));
    }
    html.push_str("</body>\n</html>\n");
    html
}

fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut html = format!("<table>\n{}", row("th", headers));
    for cells in rows {
        html.push_str(&row("td", cells));
    }
    html + "</table>\n"
}

fn row(tag: &str, cells: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let cells: String = cells.into_iter().map(|cell| format!("<{tag}>{}</{tag}>", escape(cell.as_ref()))).collect();
    format!("<tr>{cells}</tr>\n")
}

/// The PNG to look at, linking to the SVG for print.
fn figure(plot: &WrittenPlot) -> String {
    let caption = escape(&plot.caption);
    let file = |extension: &str| escape(&format!("{}.{extension}", plot.stem));
    format!(
        "<figure>\n<h2>{caption}</h2>\n<a href=\"{svg}\"><img src=\"{png}\" alt=\"{caption}\"></a>\n</figure>\n",
        svg = file("svg"),
        png = file("png"),
    )
}

/// Text as HTML shows it literally, in element content and in quoted attributes alike.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}
