//! Charts as inline SVG, so the report needs no script and no network. Drawn by hand:
//! the few bar shapes needed here are simpler than any plotting crate's output, which
//! would also need fonts to lay out text.
//!
//! Geometry is computed here; `report-templates/chart.svg` writes it out, escaping every
//! label and tooltip (they can carry names from logs).

use std::collections::BTreeMap;

use askama::Template;

use crate::gather::DailyCount;

/// A drawn chart.
#[derive(Template)]
#[template(path = "chart.svg")]
pub(crate) struct Chart {
    pub width: u32,
    pub height: u32,
    /// What the chart shows, for screen readers.
    pub label: String,
    pub rects: Vec<Rect>,
    pub texts: Vec<Text>,
}

pub(crate) struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    /// CSS class (colour).
    pub class: String,
    /// Tooltip.
    pub title: String,
}

pub(crate) struct Text {
    pub x: u32,
    pub y: u32,
    /// `start`, `middle` or `end`.
    pub anchor: &'static str,
    pub text: String,
}

const LEFT: u32 = 48;
const BOTTOM: u32 = 36;
const TOP: u32 = 24;

/// Bars per day, stacked per series (`s0`, `s1`, … classes), with a legend.
pub(crate) fn daily_bars(label: &str, days: &[String], counts: &[DailyCount]) -> Chart {
    let series: Vec<&str> = {
        let mut s: Vec<&str> = counts.iter().map(|c| c.series.as_str()).collect();
        s.sort();
        s.dedup();
        s
    };
    let mut per_day: BTreeMap<&str, Vec<(usize, i64)>> = BTreeMap::new();
    for c in counts {
        let index = series.iter().position(|s| *s == c.series).expect("collected above");
        per_day.entry(c.day.as_str()).or_default().push((index, c.count));
    }
    let max = per_day.values().map(|v| v.iter().map(|(_, n)| n).sum::<i64>()).max().unwrap_or(0).max(1);
    let (width, height) = (LEFT + 22 * days.len().max(1) as u32 + 8, 200);
    let plot = height - TOP - BOTTOM;
    let mut rects = Vec::new();
    let mut texts = axis(max, plot);
    for (i, day) in days.iter().enumerate() {
        let x = LEFT + 22 * i as u32 + 3;
        let mut base = height - BOTTOM;
        for (index, n) in per_day.get(day.as_str()).into_iter().flatten() {
            let h = ((*n as f64 / max as f64) * plot as f64).round().max(1.0) as u32;
            base -= h;
            rects.push(Rect { x, y: base, w: 16, h, class: format!("s{}", index % 4), title: format!("{day} {}: {n}", series[*index]) });
        }
        if i % 5 == 0 || i + 1 == days.len() {
            texts.push(Text { x: x + 8, y: height - BOTTOM + 14, anchor: "middle", text: day.get(5..).unwrap_or(day).to_string() });
        }
    }
    for (i, s) in series.iter().enumerate() {
        let x = LEFT + 140 * i as u32;
        rects.push(Rect { x, y: 4, w: 10, h: 10, class: format!("s{}", i % 4), title: (*s).to_string() });
        texts.push(Text { x: x + 14, y: 13, anchor: "start", text: (*s).to_string() });
    }
    Chart { width, height, label: label.to_string(), rects, texts }
}

fn axis(max: i64, plot: u32) -> Vec<Text> {
    vec![Text { x: LEFT - 6, y: TOP + 4, anchor: "end", text: max.to_string() }, Text { x: LEFT - 6, y: TOP + plot, anchor: "end", text: "0".into() }]
}

/// One row per stream, one cell per day: `ok` (rows, no gap), `gap` (a recorded gap) or
/// `silent` (neither).
pub(crate) fn coverage_grid(days: &[String], streams: &[String], cells: &BTreeMap<(String, String), (i64, i64)>) -> Chart {
    let name_width = 150;
    let (width, height) = (name_width + 16 * days.len() as u32 + 8, TOP + 18 * streams.len() as u32 + 20);
    let mut rects = Vec::new();
    let mut texts = Vec::new();
    for (row, stream) in streams.iter().enumerate() {
        let y = TOP + 18 * row as u32;
        texts.push(Text { x: name_width - 6, y: y + 12, anchor: "end", text: stream.clone() });
        for (col, day) in days.iter().enumerate() {
            let (rows, gaps) = cells.get(&(stream.clone(), day.clone())).copied().unwrap_or((0, 0));
            let (class, what) = match (rows, gaps) {
                (_, g) if g > 0 => ("gap", format!("{rows} rows, {g} uncollected windows")),
                (0, _) => ("silent", "no rows".to_string()),
                _ => ("ok", format!("{rows} rows")),
            };
            rects.push(Rect { x: name_width + 16 * col as u32, y, w: 14, h: 14, class: class.into(), title: format!("{stream} {day}: {what}") });
        }
    }
    for (col, day) in days.iter().enumerate() {
        if col % 5 == 0 || col + 1 == days.len() {
            texts.push(Text { x: name_width + 16 * col as u32 + 7, y: TOP - 6, anchor: "middle", text: day.get(5..).unwrap_or(day).to_string() });
        }
    }
    Chart { width, height, label: "Rows collected per source and day".into(), rects, texts }
}

/// One labelled horizontal bar per item, longest for the largest count.
pub(crate) fn labelled_bars(label: &str, bars: &[(String, i64)], class: &str) -> Chart {
    let (name_width, bar_width) = (260, 300);
    let max = bars.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let mut rects = Vec::new();
    let mut texts = Vec::new();
    for (row, (name, n)) in bars.iter().enumerate() {
        let y = 4 + 20 * row as u32;
        let w = ((*n as f64 / max as f64) * bar_width as f64).round() as u32;
        texts.push(Text { x: name_width - 6, y: y + 12, anchor: "end", text: name.clone() });
        rects.push(Rect { x: name_width, y, w: w.max(u32::from(*n > 0)), h: 14, class: class.into(), title: format!("{name}: {n}") });
        texts.push(Text { x: name_width + w + 4, y: y + 12, anchor: "start", text: n.to_string() });
    }
    Chart { width: name_width + bar_width + 60, height: 8 + 20 * bars.len().max(1) as u32, label: label.to_string(), rects, texts }
}

/// One horizontal bar split by status.
pub(crate) fn status_bar(label: &str, parts: &[(String, &'static str, usize)]) -> Chart {
    let total: usize = parts.iter().map(|p| p.2).sum::<usize>().max(1);
    let width = 600;
    let mut x = 0;
    let mut rects = Vec::new();
    for (name, class, n) in parts.iter().filter(|p| p.2 > 0) {
        let w = (*n as f64 / total as f64 * width as f64).round() as u32;
        rects.push(Rect { x, y: 0, w, h: 18, class: (*class).into(), title: format!("{name}: {n}") });
        x += w;
    }
    Chart { width, height: 18, label: label.to_string(), rects, texts: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_as_tall_as_their_share_and_labels_are_escaped() {
        let days: Vec<String> = ["2026-11-01", "2026-11-02"].iter().map(|s| s.to_string()).collect();
        let counts = vec![
            DailyCount { day: "2026-11-01".into(), series: "<b>akeyless</b>".into(), count: 10 },
            DailyCount { day: "2026-11-02".into(), series: "<b>akeyless</b>".into(), count: 5 },
        ];
        let chart = daily_bars("reads", &days, &counts);
        let plot = 200 - TOP - BOTTOM;
        assert_eq!(chart.rects[0].h, plot);
        assert_eq!(chart.rects[1].h, plot / 2);
        let svg = chart.render().unwrap();
        assert!(svg.contains("&#60;b&#62;akeyless") || svg.contains("&lt;b&gt;akeyless"), "{svg}");
        assert!(!svg.contains("<b>"));
    }

    #[test]
    fn labelled_bars_scale_to_the_largest_and_escape_names() {
        let chart = labelled_bars("failures", &[("<i>es</i>".to_string(), 8), ("b".to_string(), 2), ("c".to_string(), 0)], "s1");
        let widths: Vec<u32> = chart.rects.iter().map(|r| r.w).collect();
        assert_eq!(widths, vec![300, 75, 0]);
        let svg = chart.render().unwrap();
        assert!(!svg.contains("<i>"), "{svg}");
    }

    #[test]
    fn coverage_cells_show_gaps_over_rows() {
        let days = vec!["2026-11-01".to_string(), "2026-11-02".to_string(), "2026-11-03".to_string()];
        let mut cells = BTreeMap::new();
        cells.insert(("a".to_string(), "2026-11-01".to_string()), (5, 0));
        cells.insert(("a".to_string(), "2026-11-02".to_string()), (5, 1));
        let chart = coverage_grid(&days, &["a".to_string()], &cells);
        let classes: Vec<&str> = chart.rects.iter().map(|r| r.class.as_str()).collect();
        assert_eq!(classes, vec!["ok", "gap", "silent"]);
    }
}
