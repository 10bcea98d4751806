//! The status page: one HTML document, no external assets (the admin network may be offline), that
//! reloads itself every [`REFRESH_SECS`] and charts each route's traffic per version and match ratio
//! over 24 h in inline SVG.
//!
//! Everything shown that comes from events or configuration (paths, event ids, versions, route names)
//! is escaped.

use std::fmt::Write;

use super::{percent, thousands, ChartPoint, RouteStatus, Status};

/// How often the page reloads itself.
pub const REFRESH_SECS: u32 = 15;

/// Series colours of the chart, one per version in order.
const COLOURS: [&str; 4] = ["#1f77b4", "#ff7f0e", "#9467bd", "#8c564b"];
const MATCH_COLOUR: &str = "#2ca02c";
const CHART_W: f64 = 720.0;
const CHART_H: f64 = 160.0;
const PAD: f64 = 36.0;

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:980px}\
h1{font-size:20px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:6px 0}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}\
.num{text-align:right;font-variant-numeric:tabular-nums}code{background:#f4f4f4;padding:1px 4px}\
.verdict{padding:8px 12px;border-radius:4px;font-weight:600}.ready{background:#e3f6e3;color:#155215}\
.notyet{background:#fdecea;color:#7a1b12}.muted{color:#777}svg{background:#fafafa;border:1px solid #eee}";

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole page.
pub fn render(status: &Status) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\">\
         <title>hookshift status</title><style>{STYLE}</style></head><body>\
         <h1>hookshift: where the migration stands</h1>\
         <p class=\"muted\">Ledger: {} · generated at <span id=\"generated\">{}</span> UTC · \
         reloads every {REFRESH_SECS} s</p>",
        escape(status.ledger),
        utc(status.generated_at),
    );
    for route in &status.routes {
        route_section(&mut out, route);
    }
    out.push_str("</body></html>\n");
    out
}

/// `2026-12-07 06:00` from Unix seconds.
fn utc(seconds: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds as i64)
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}",
                t.year(),
                t.month() as u8,
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_default()
}

fn route_section(out: &mut String, r: &RouteStatus) {
    stage_summary(out, r);
    traffic_table(out, r);
    shadow_comparison(out, &r.shadow);
    problems_table(out, &r.problems);
}

/// The heading, the stage with its verdict and reasons, and the policy edits to move on or back.
fn stage_summary(out: &mut String, r: &RouteStatus) {
    let _ = write!(
        out,
        "<section id=\"route-{name}\"><h2>Route {name}</h2>\
         <p>Stage <strong class=\"stage\">{stage}</strong>: {title} (handler on {handler})</p>\
         <p class=\"verdict {class}\">{summary}</p><ul>",
        name = escape(&r.route),
        stage = escape(r.stage.name),
        title = escape(r.stage.title),
        handler = escape(&r.handler_version),
        class = if r.verdict.ready { "ready" } else { "notyet" },
        summary = escape(&r.verdict.summary),
    );
    for reason in &r.verdict.reasons {
        let _ = write!(out, "<li>{}</li>", escape(reason));
    }
    out.push_str("</ul><p>Policy now: ");
    for line in &r.stage.policy {
        let _ = write!(out, "<code>{}</code> ", escape(line));
    }
    out.push_str("</p>");
    for (label, m) in [("Next", &r.stage.next), ("Roll back", &r.stage.rollback)] {
        let Some(m) = m else { continue };
        let _ = write!(out, "<p>{label}: stage {}: ", escape(&m.stage));
        if m.policy.is_empty() {
            out.push_str("no policy edit");
        }
        for line in &m.policy {
            let _ = write!(out, "<code>{}</code> ", escape(line));
        }
        if let Some(also) = &m.also {
            let _ = write!(out, "; {}", escape(also));
        }
        out.push_str("</p>");
    }
}

/// The table of requests per sending version, then the hourly chart.
fn traffic_table(out: &mut String, r: &RouteStatus) {
    out.push_str(
        "<h3>Traffic per endpoint version</h3><table><tr><th>version</th>\
         <th class=\"num\">this hour</th><th class=\"num\">24 h</th><th>outcomes (24 h)</th></tr>",
    );
    for t in &r.traffic {
        let outcomes: Vec<String> = t
            .outcomes_24h
            .iter()
            .map(|(o, n)| format!("{} {}", escape(o), thousands(*n)))
            .collect();
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            escape(&t.version),
            thousands(t.last_hour),
            thousands(t.last_24h),
            outcomes.join(", ")
        );
    }
    out.push_str("</table>");
    chart(out, &r.chart);
}

/// The twin comparison and the paths that differ most often.
fn shadow_comparison(out: &mut String, s: &super::ShadowSummary) {
    let _ = write!(
        out,
        "<h3>Shadow comparison ({} h)</h3><p>{} pairs compared, match ratio \
         <strong class=\"match\">{}</strong>; unpaired twins: {} native, {} translated</p>",
        s.window_hours,
        thousands(s.pairs),
        s.match_ratio.map_or_else(|| "-".to_owned(), percent),
        thousands(s.unpaired_native),
        thousands(s.unpaired_translated),
    );
    if !s.top_mismatched_paths.is_empty() {
        out.push_str(
            "<table class=\"paths\"><tr><th>mismatched path</th><th class=\"num\">pairs</th>\
             <th>example (native / translated event id)</th></tr>",
        );
        for p in &s.top_mismatched_paths {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td>{} / {}</td></tr>",
                escape(&p.path),
                thousands(p.pairs),
                escape(&p.native_event_id),
                escape(&p.translated_event_id)
            );
        }
        out.push_str("</table>");
    }
}

/// The problem counters; closes the route's section.
fn problems_table(out: &mut String, p: &super::Problems) {
    let answers: Vec<String> = p
        .handler_answers
        .iter()
        .map(|(c, n)| format!("{} {}", escape(c), thousands(*n)))
        .collect();
    let _ = write!(
        out,
        "<h3>Problems ({} h)</h3><table>\
         <tr><td>quarantined events</td><td class=\"num\">{}</td></tr>\
         <tr><td>invalid outputs</td><td class=\"num\">{}</td></tr>\
         <tr><td>unmapped fields</td><td class=\"num\">{}</td></tr>\
         <tr><td>handler answers</td><td>{}</td></tr></table></section>",
        p.window_hours,
        thousands(p.quarantined),
        thousands(p.invalid_outputs),
        thousands(p.unmapped_fields),
        if answers.is_empty() {
            "none".to_owned()
        } else {
            answers.join(", ")
        },
    );
}

/// Traffic per version (left axis, requests per hour) and match ratio (right axis, 0-100 %).
fn chart(out: &mut String, points: &[ChartPoint]) {
    let mut versions: Vec<&String> = points.iter().flat_map(|p| p.received.keys()).collect();
    versions.sort();
    versions.dedup();
    let top = points
        .iter()
        .flat_map(|p| p.received.values())
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    let step = (CHART_W - 2.0 * PAD) / (points.len().max(2) - 1) as f64;
    let x = |i: usize| PAD + i as f64 * step;
    let y = |fraction: f64| CHART_H - PAD + (2.0 * PAD - CHART_H) * fraction;
    let _ = write!(
        out,
        "<svg role=\"img\" aria-label=\"traffic per version and match ratio, 24 h\" \
         width=\"{CHART_W}\" height=\"{CHART_H}\" viewBox=\"0 0 {CHART_W} {CHART_H}\" \
         xmlns=\"http://www.w3.org/2000/svg\">\
         <line x1=\"{PAD}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#bbb\"/>\
         <text x=\"4\" y=\"{t}\" font-size=\"10\">{top}/h</text>\
         <text x=\"{r}\" y=\"{t}\" font-size=\"10\" text-anchor=\"end\">100 %</text>\
         <text x=\"{PAD}\" y=\"{lab}\" font-size=\"10\">-24 h</text>\
         <text x=\"{r}\" y=\"{lab}\" font-size=\"10\" text-anchor=\"end\">now</text>",
        b = y(0.0),
        r = CHART_W - PAD,
        t = PAD - 8.0,
        lab = CHART_H - PAD + 14.0,
        top = thousands(top),
    );
    for (n, version) in versions.iter().enumerate() {
        let colour = COLOURS[n % COLOURS.len()];
        let line: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let v = p.received.get(*version).copied().unwrap_or(0);
                format!("{:.1},{:.1}", x(i), y(v as f64 / top as f64))
            })
            .collect();
        let _ = write!(
            out,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{colour}\">{}</text>",
            line.join(" "),
            PAD + 110.0 * n as f64,
            CHART_H - 6.0,
            escape(version)
        );
    }
    // The match ratio, broken where an hour had no pair.
    let mut segment: Vec<String> = Vec::new();
    let mut segments = Vec::new();
    for (i, p) in points.iter().enumerate() {
        if p.pairs == 0 {
            segments.push(std::mem::take(&mut segment));
            continue;
        }
        let ratio = p.matched as f64 / p.pairs as f64;
        segment.push(format!("{:.1},{:.1}", x(i), y(ratio)));
    }
    segments.push(segment);
    for segment in segments.iter().filter(|s| !s.is_empty()) {
        let _ = write!(
            out,
            "<polyline fill=\"none\" stroke=\"{MATCH_COLOUR}\" stroke-dasharray=\"4 3\" \
             stroke-width=\"2\" points=\"{}\"/>",
            segment.join(" ")
        );
        if segment.len() == 1 {
            let (cx, cy) = segment[0].split_once(',').unwrap_or(("0", "0"));
            let _ = write!(
                out,
                "<circle cx=\"{cx}\" cy=\"{cy}\" r=\"3\" fill=\"{MATCH_COLOUR}\"/>"
            );
        }
    }
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{MATCH_COLOUR}\">match ratio</text></svg>",
        CHART_W - PAD - 70.0,
        CHART_H - 6.0
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_data_is_escaped() {
        assert_eq!(
            escape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
