//! A self-contained HTML rendering of a [`TrendsReport`]: inline SVG charts
//! (stacked area of category share over time, movers bars, per-model lines),
//! inline CSS, no JavaScript, no external resource — it renders offline.
//!
//! The SVG is generated here rather than with `plotters`: see docs/trends.md.

use super::{CategoryTrend, Mover, TrendsReport};
use std::fmt::Write;

const PALETTE: &[&str] = &[
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];
/// Number of categories drawn as their own layer; the rest are summed into "other".
const LAYERS: usize = 9;

use cambrian_types::html::escape as esc;

fn cat_name(c: &CategoryTrend) -> String {
    c.category.clone().unwrap_or_else(|| "(none)".into())
}

fn fmt_num(x: f64) -> String {
    if x.abs() >= 1e9 {
        format!("{:.2}G", x / 1e9)
    } else if x.abs() >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x.abs() >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// Render the report as one HTML document.
pub fn render(r: &TrendsReport) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let title = format!(
        "cambrian trends — {} by {}",
        r.dimension.name(),
        r.weight.label()
    );
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>\
body{{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}}\
h1{{font-size:20px}}h2{{font-size:16px;margin-top:28px}}\
table{{border-collapse:collapse;font-size:13px}}td,th{{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}}\
td:first-child,th:first-child{{text-align:left}}.note{{color:#555;font-size:12px}}\
svg text{{font-family:system-ui,sans-serif;font-size:11px;fill:#333}}ul.method{{font-size:12px;color:#444}}\
</style></head><body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    let _ = writeln!(
        h,
        "<p class=\"note\">Series <b>{}</b> ({}) — {} snapshots, {} .. {}. Movers compare snapshot {} with snapshot {}.</p>",
        esc(&r.series.source),
        esc(&r.series.query),
        r.snapshots.len(),
        r.from.taken_at.format("%Y-%m-%d %H:%M UTC"),
        r.to.taken_at.format("%Y-%m-%d %H:%M UTC"),
        r.from.id,
        r.to.id
    );
    h.push_str("<h2>Category share over time</h2>\n");
    share_chart(&mut h, r);
    share_table(&mut h, r);
    h.push_str("<h2>Top likes gained</h2>\n");
    bar_chart(
        &mut h,
        "chart-likes",
        &r.movers.likes_gained,
        "likes gained",
    );
    if !r.movers.downloads_interval.is_empty() {
        h.push_str("<h2>Interval downloads (difference of downloadsAllTime)</h2>\n");
        bar_chart(
            &mut h,
            "chart-downloads",
            &r.movers.downloads_interval,
            "downloads in interval",
        );
    }
    if !r.movers.downloads_rolling_30d.is_empty() {
        let _ = writeln!(
            h,
            "<h2>Rolling 30-day downloads at the last snapshot</h2>\n<p class=\"note\">{} models have no downloadsAllTime in both snapshots: this is the Hub's rolling 30-day count, not an interval figure.</p>",
            r.movers.rolling_only
        );
        bar_chart(
            &mut h,
            "chart-downloads-30d",
            &r.movers.downloads_rolling_30d,
            "downloads, rolling 30 days",
        );
    }
    h.push_str("<h2>Likes over time (top gainers)</h2>\n");
    line_chart(&mut h, r);
    movers_table(&mut h, "Climbed in rank", &r.movers.rank_up, "positions");
    movers_table(&mut h, "Fell in rank", &r.movers.rank_down, "positions");
    let _ = writeln!(h, "<h2>New entries ({})</h2>", r.movers.new_entries_total);
    list(&mut h, &r.movers.new_entries, true);
    let _ = writeln!(h, "<h2>Dropped ({})</h2>", r.movers.dropped_total);
    list(&mut h, &r.movers.dropped, false);
    h.push_str("<h2>Method</h2>\n<ul class=\"method\">\n");
    for m in &r.method {
        let _ = writeln!(h, "<li>{}</li>", esc(m));
    }
    h.push_str("</ul>\n</body></html>\n");
    h
}

/// The categories drawn as layers: the LAYERS largest by mean share, then "other".
fn layers(r: &TrendsReport) -> Vec<(String, Vec<f64>)> {
    let nb = r.buckets.len();
    let mut cats: Vec<&CategoryTrend> = r.categories.iter().collect();
    let mean = |c: &CategoryTrend| c.shares.iter().flatten().sum::<f64>();
    cats.sort_by(|a, b| {
        mean(b)
            .total_cmp(&mean(a))
            .then_with(|| a.category.cmp(&b.category))
    });
    let mut out: Vec<(String, Vec<f64>)> = Vec::new();
    let mut other = vec![0.0; nb];
    for (i, c) in cats.iter().enumerate() {
        let v: Vec<f64> = c.shares.iter().map(|s| s.unwrap_or(0.0)).collect();
        if i < LAYERS {
            out.push((cat_name(c), v));
        } else {
            for (o, x) in other.iter_mut().zip(v) {
                *o += x;
            }
        }
    }
    if cats.len() > LAYERS {
        out.push((format!("other ({} categories)", cats.len() - LAYERS), other));
    }
    out
}

fn share_chart(h: &mut String, r: &TrendsReport) {
    let (w, ht, left, right, top, bottom) = (900.0, 340.0, 50.0, 230.0, 10.0, 40.0);
    let pw = w - left - right;
    let ph = ht - top - bottom;
    // Only buckets with a share (non-empty) are drawn.
    let xs: Vec<usize> = (0..r.buckets.len())
        .filter(|&i| r.buckets[i].total.is_some())
        .collect();
    let layers = layers(r);
    let _ = writeln!(
        h,
        "<svg id=\"chart-share\" data-layers=\"{}\" data-points=\"{}\" width=\"{w}\" height=\"{ht}\" viewBox=\"0 0 {w} {ht}\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"stacked area of category share\">",
        layers.len(),
        xs.len()
    );
    let x_at = |k: usize| -> f64 {
        if xs.len() <= 1 {
            left + pw / 2.0
        } else {
            left + pw * k as f64 / (xs.len() - 1) as f64
        }
    };
    let y_at = |v: f64| top + ph * (1.0 - v.clamp(0.0, 1.0));
    let mut base = vec![0.0; xs.len()];
    for (li, (name, vals)) in layers.iter().enumerate() {
        let color = PALETTE[li % PALETTE.len()];
        let lower = base.clone();
        for (k, &bi) in xs.iter().enumerate() {
            base[k] += vals.get(bi).copied().unwrap_or(0.0);
        }
        let mut d = String::new();
        if xs.len() == 1 {
            // A single point: draw a bar so that the share is still visible.
            let _ = write!(
                d,
                "M{:.1},{:.1}L{:.1},{:.1}L{:.1},{:.1}L{:.1},{:.1}Z",
                left,
                y_at(lower[0]),
                left + pw,
                y_at(lower[0]),
                left + pw,
                y_at(base[0]),
                left,
                y_at(base[0])
            );
        } else {
            for (k, &b) in base.iter().enumerate().take(xs.len()) {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1}",
                    if k == 0 { "M" } else { "L" },
                    x_at(k),
                    y_at(b)
                );
            }
            for k in (0..xs.len()).rev() {
                let _ = write!(d, "L{:.1},{:.1}", x_at(k), y_at(lower[k]));
            }
            d.push('Z');
        }
        if !xs.is_empty() {
            let _ = writeln!(
                h,
                "<path class=\"layer\" d=\"{d}\" fill=\"{color}\" stroke=\"#fff\" stroke-width=\"0.5\"><title>{}</title></path>",
                esc(name)
            );
        }
        let ly = top + 14.0 * li as f64 + 8.0;
        let _ = writeln!(
            h,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            w - right + 10.0,
            ly - 8.0,
            w - right + 24.0,
            ly + 1.0,
            esc(&truncate(name, 32))
        );
    }
    for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let y = y_at(t);
        let _ = writeln!(
            h,
            "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#999\" stroke-width=\"0.5\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{:.0}%</text>",
            left + pw,
            left - 4.0,
            y + 4.0,
            t * 100.0
        );
    }
    let ticks = xs.len().clamp(1, 6);
    for j in 0..ticks {
        let k = if ticks == 1 {
            0
        } else {
            j * (xs.len() - 1) / (ticks - 1)
        };
        if let Some(&bi) = xs.get(k) {
            let label = r.buckets[bi].label.split('#').next().unwrap_or("");
            let _ = writeln!(
                h,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x_at(k),
                ht - bottom + 16.0,
                esc(&truncate(label, 16))
            );
        }
    }
    if xs.is_empty() {
        let _ = writeln!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">no non-empty snapshot in range</text>",
            left + pw / 2.0,
            top + ph / 2.0
        );
    }
    h.push_str("</svg>\n");
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or("–".into(), |v| format!("{:.2}%", v * 100.0))
}

fn share_table(h: &mut String, r: &TrendsReport) {
    h.push_str("<table><tr><th>category</th><th>first</th><th>last</th><th>change (pp)</th><th>relative</th></tr>\n");
    for c in &r.categories {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&cat_name(c)),
            pct(c.from_share),
            pct(c.to_share),
            c.change_pp.map_or("–".into(), |v| format!("{v:+.2}")),
            c.relative_change
                .map_or("–".into(), |v| format!("{:+.1}%", v * 100.0))
        );
    }
    h.push_str("</table>\n");
}

fn bar_chart(h: &mut String, id: &str, items: &[Mover], what: &str) {
    let row = 22.0;
    let (w, left, right) = (900.0, 330.0, 90.0);
    let ht = 10.0 + row * items.len().max(1) as f64;
    let max = items.iter().map(|m| m.value).fold(0.0_f64, f64::max);
    let _ = writeln!(
        h,
        "<svg id=\"{id}\" data-bars=\"{}\" width=\"{w}\" height=\"{ht}\" viewBox=\"0 0 {w} {ht}\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"{}\">",
        items.len(),
        esc(what)
    );
    if items.is_empty() {
        let _ = writeln!(h, "<text x=\"10\" y=\"20\">no model qualifies</text>");
    }
    for (i, m) in items.iter().enumerate() {
        let y = 5.0 + row * i as f64;
        let bw = if max > 0.0 {
            (w - left - right) * (m.value.max(0.0) / max)
        } else {
            0.0
        };
        let _ = writeln!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><rect class=\"bar\" x=\"{left}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}: {}</title></rect><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            left - 6.0,
            y + 14.0,
            esc(&truncate(&m.model, 48)),
            bw.max(1.0),
            row - 6.0,
            PALETTE[0],
            esc(&m.model),
            fmt_num(m.value),
            left + bw + 6.0,
            y + 14.0,
            fmt_num(m.value)
        );
    }
    h.push_str("</svg>\n");
}

fn line_chart(h: &mut String, r: &TrendsReport) {
    let (w, ht, left, right, top, bottom) = (900.0, 300.0, 60.0, 260.0, 10.0, 40.0);
    let pw = w - left - right;
    let ph = ht - top - bottom;
    let n = r.snapshots.len();
    let max = r
        .lines
        .iter()
        .flat_map(|l| l.likes.iter().flatten())
        .fold(0.0_f64, |a, &b| a.max(b));
    let min = r
        .lines
        .iter()
        .flat_map(|l| l.likes.iter().flatten())
        .fold(f64::INFINITY, |a, &b| a.min(b));
    let (lo, hi) = if min.is_finite() && max > min {
        (min, max)
    } else {
        (0.0, max.max(1.0))
    };
    let _ = writeln!(
        h,
        "<svg id=\"chart-lines\" data-lines=\"{}\" width=\"{w}\" height=\"{ht}\" viewBox=\"0 0 {w} {ht}\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"likes over time\">",
        r.lines.len()
    );
    let x_at = |i: usize| {
        if n <= 1 {
            left + pw / 2.0
        } else {
            left + pw * i as f64 / (n - 1) as f64
        }
    };
    let y_at = |v: f64| top + ph * (1.0 - (v - lo) / (hi - lo));
    for (li, l) in r.lines.iter().enumerate() {
        let color = PALETTE[li % PALETTE.len()];
        let mut d = String::new();
        let mut pen_up = true;
        for (i, v) in l.likes.iter().enumerate() {
            match v {
                Some(v) => {
                    let _ = write!(
                        d,
                        "{}{:.1},{:.1}",
                        if pen_up { "M" } else { "L" },
                        x_at(i),
                        y_at(*v)
                    );
                    pen_up = false;
                }
                // Absent from that snapshot: break the line (the model dropped out and may return).
                None => pen_up = true,
            }
        }
        let _ = writeln!(
            h,
            "<path class=\"line\" d=\"{d}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"><title>{}</title></path>",
            esc(&l.model)
        );
        for (i, v) in l.likes.iter().enumerate() {
            let isolated = v.is_some()
                && (i == 0 || l.likes[i - 1].is_none())
                && (i + 1 >= n || l.likes.get(i + 1).is_none_or(|x| x.is_none()));
            if let (true, Some(v)) = (isolated, v) {
                let _ = writeln!(
                    h,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{color}\"/>",
                    x_at(i),
                    y_at(*v)
                );
            }
        }
        let ly = top + 14.0 * li as f64 + 8.0;
        let _ = writeln!(
            h,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            w - right + 10.0,
            ly - 8.0,
            w - right + 24.0,
            ly + 1.0,
            esc(&truncate(&l.model, 36))
        );
    }
    for j in 0..=4 {
        let v = lo + (hi - lo) * j as f64 / 4.0;
        let y = y_at(v);
        let _ = writeln!(
            h,
            "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ccc\" stroke-width=\"0.5\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left + pw,
            left - 4.0,
            y + 4.0,
            fmt_num(v.round())
        );
    }
    let ticks = n.clamp(1, 6);
    for j in 0..ticks {
        let i = if ticks == 1 {
            0
        } else {
            j * (n - 1) / (ticks - 1)
        };
        if let Some(s) = r.snapshots.get(i) {
            let _ = writeln!(
                h,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x_at(i),
                ht - bottom + 16.0,
                s.taken_at.format("%Y-%m-%d")
            );
        }
    }
    if r.lines.is_empty() {
        let _ = writeln!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">no model with likes in both snapshots</text>",
            left + pw / 2.0,
            top + ph / 2.0
        );
    }
    h.push_str("</svg>\n");
}

fn movers_table(h: &mut String, title: &str, items: &[Mover], unit: &str) {
    let _ = writeln!(h, "<h2>{}</h2>", esc(title));
    if items.is_empty() {
        h.push_str("<p class=\"note\">none</p>\n");
        return;
    }
    let _ = writeln!(
        h,
        "<table><tr><th>model</th><th>rank then</th><th>rank now</th><th>{}</th></tr>",
        esc(unit)
    );
    for m in items {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&m.model),
            m.rank_from.map_or("–".into(), |r| r.to_string()),
            m.rank_to.map_or("–".into(), |r| r.to_string()),
            fmt_num(m.value)
        );
    }
    h.push_str("</table>\n");
}

fn list(h: &mut String, items: &[Mover], at_to: bool) {
    if items.is_empty() {
        h.push_str("<p class=\"note\">none</p>\n");
        return;
    }
    h.push_str("<table><tr><th>model</th><th>rank</th><th>pipeline_tag</th></tr>\n");
    for m in items {
        let rank = if at_to { m.rank_to } else { m.rank_from };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&m.model),
            rank.map_or("–".into(), |r| r.to_string()),
            esc(m.pipeline_tag.as_deref().unwrap_or("(none)"))
        );
    }
    h.push_str("</table>\n");
}
