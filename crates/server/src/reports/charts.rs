//! Inline SVG charts for reports.
//!
//! Reports travel as one file into IT Glue and are opened in whatever browser the technician has,
//! offline, so charts are plain SVG written into the HTML: no scripts, no fonts, no images to fetch.
//! Every label comes from alerts, which are hostile input, and goes through [`escape`].

use std::fmt::Write;

use chrono::NaiveDate;

/// Bar colours, one per alert type in turn; chosen to stay distinct for colour-blind readers.
pub const PALETTE: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];
/// Colour of the per-day columns.
pub const DAY_COLOUR: &str = "#1f77b4";

const WIDTH: u32 = 760;
const LABEL_WIDTH: u32 = 250;
const ROW_HEIGHT: u32 = 30;
const BAR_HEIGHT: u32 = 20;
const LABEL_CHARS: usize = 34;

/// Escapes text for HTML element content and attribute values alike.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// `text` cut to `max` characters (on a character boundary), with an ellipsis when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A horizontal bar chart: one labelled bar per entry, longest first as given.
pub fn horizontal_bars(title: &str, entries: &[(String, u64)]) -> String {
    if entries.is_empty() {
        return empty_chart(title);
    }
    let max = entries.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
    let height = ROW_HEIGHT * entries.len() as u32 + 10;
    let bar_space = WIDTH - LABEL_WIDTH - 60;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" role="img" aria-label="{title}" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}">"#,
        title = escape(title)
    );
    for (index, (label, count)) in entries.iter().enumerate() {
        let y = 5 + ROW_HEIGHT * index as u32;
        let length = ((*count as f64 / max as f64) * f64::from(bar_space)).round() as u32;
        let colour = PALETTE[index % PALETTE.len()];
        let _ = write!(
            svg,
            r#"<text x="{x}" y="{ty}" text-anchor="end" class="label">{label}</text><rect class="bar" x="{LABEL_WIDTH}" y="{y}" width="{w}" height="{BAR_HEIGHT}" rx="3" fill="{colour}"><title>{full}: {count}</title></rect><text x="{vx}" y="{ty}" class="value">{count}</text>"#,
            x = LABEL_WIDTH - 8,
            ty = y + 15,
            label = escape(&shorten(label, LABEL_CHARS)),
            w = length.max(2),
            full = escape(label),
            vx = LABEL_WIDTH + length.max(2) + 6,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A column chart of counts per day, with a value over each column and a date under it.
pub fn daily_columns(title: &str, days: &[(NaiveDate, u64)]) -> String {
    if days.is_empty() {
        return empty_chart(title);
    }
    let height: u32 = 260;
    let (left, bottom, top) = (40u32, 40u32, 24u32);
    let plot_height = height - bottom - top;
    let slot = (WIDTH - left - 10) / days.len() as u32;
    let column = (slot * 3 / 5).max(2);
    // The axis runs to the next multiple of four at or above the busiest day, so each of the four
    // gridlines sits on a whole number and the columns read true against them.
    let busiest = days.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let step = busiest.div_ceil(4);
    let max = step * 4;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" role="img" aria-label="{title}" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}">"#,
        title = escape(title)
    );
    // Four gridlines with their values, so the columns can be read without hovering.
    for line in 0..=4u32 {
        let y = top + plot_height - plot_height * line / 4;
        let value = step * u64::from(line);
        let _ = write!(
            svg,
            r##"<line x1="{left}" y1="{y}" x2="{x2}" y2="{y}" stroke="#d0d7de" stroke-width="1"/><text x="{tx}" y="{ty}" text-anchor="end" class="axis">{value}</text>"##,
            x2 = WIDTH - 10,
            tx = left - 6,
            ty = y + 4,
        );
    }
    let label_every = (days.len() / 14).max(1);
    for (index, (day, count)) in days.iter().enumerate() {
        let x = left + slot * index as u32 + (slot - column) / 2;
        let bar = ((*count as f64 / max as f64) * f64::from(plot_height)).round() as u32;
        let y = top + plot_height - bar;
        let _ = write!(
            svg,
            r#"<rect class="bar day" x="{x}" y="{y}" width="{column}" height="{bar}" fill="{DAY_COLOUR}"><title>{day}: {count}</title></rect>"#,
        );
        if *count > 0 {
            let _ = write!(
                svg,
                r#"<text x="{cx}" y="{vy}" text-anchor="middle" class="value">{count}</text>"#,
                cx = x + column / 2,
                vy = y.saturating_sub(5),
            );
        }
        if index % label_every == 0 {
            let _ = write!(
                svg,
                r#"<text x="{cx}" y="{ly}" text-anchor="middle" class="axis">{label}</text>"#,
                cx = x + column / 2,
                ly = height - bottom + 18,
                label = day.format("%b %d"),
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn empty_chart(title: &str) -> String {
    format!(
        r#"<svg class="chart empty" role="img" aria-label="{title}" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="60" viewBox="0 0 {WIDTH} 60"><text x="10" y="35" class="label">No alerts in this period.</text></svg>"#,
        title = escape(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(escape("a\u{0}b"), "a\u{fffd}b");
    }

    #[test]
    fn shorten_cuts_on_characters() {
        assert_eq!(shorten("äöüäöü", 4), "äöü…");
        assert_eq!(shorten("short", 10), "short");
    }

    #[test]
    fn one_bar_per_entry_with_distinct_colours() {
        let entries = vec![("A".to_string(), 4), ("<B>".to_string(), 2)];
        let svg = horizontal_bars("Alerts by type", &entries);
        assert_eq!(svg.matches(r#"class="bar""#).count(), 2);
        assert!(svg.contains(PALETTE[0]) && svg.contains(PALETTE[1]));
        assert!(svg.contains("&lt;B&gt;") && !svg.contains("<B>"));
        assert!(horizontal_bars("x", &[]).contains("No alerts"));
    }

    #[test]
    fn columns_for_every_day() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let days: Vec<(NaiveDate, u64)> = (0..7)
            .map(|i| (day + chrono::Duration::days(i), i as u64))
            .collect();
        let svg = daily_columns("Alerts per day", &days);
        assert_eq!(svg.matches(r#"class="bar day""#).count(), 7);
        assert!(svg.contains("Mar 01") && svg.contains("Mar 07"));
        // Busiest day 6: the axis runs 0, 2, 4, 6, 8.
        for label in [">0<", ">2<", ">4<", ">6<", ">8<"] {
            assert!(
                svg.contains(&format!(r#"class="axis"{label}"#)),
                "{label} in {svg}"
            );
        }
    }
}
