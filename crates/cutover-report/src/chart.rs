//! The report's charts, drawn by plotters' SVG backend: the monitor's latency percentiles and
//! error rate per round with the thresholds and the breach, and the hosts' release timeline.
//! Colours are fixed here; the page's CSS recolours background, text and axes in dark mode
//! (CSS beats SVG presentation attributes), so these are the light theme.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::model::{HostTimeline, MonitorWindow, ThresholdLine};

const WIDTH: u32 = 960;
const BACKGROUND: RGBColor = RGBColor(255, 255, 255);
const INK: RGBColor = RGBColor(0, 0, 0);
const P50: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const P95: RGBColor = RGBColor(0xff, 0x7f, 0x0e);
const MAX: RGBColor = RGBColor(0x94, 0x67, 0xbd);
const ERRORS: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const LIMIT: RGBColor = RGBColor(0xb0, 0x00, 0x20);
const BREACH: RGBColor = RGBColor(0xe0, 0x00, 0x00);
const DEPLOY: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);
const ROLLBACK: RGBColor = RGBColor(0xff, 0x7f, 0x0e);
const FAILED: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const FORCED: RGBColor = RGBColor(0x94, 0x67, 0xbd);
const OTHER: RGBColor = RGBColor(0x7f, 0x7f, 0x7f);
/// Live stretches of releases, one colour each in turn.
const RELEASES: [RGBColor; 4] =
    [RGBColor(0x9e, 0xc9, 0xe2), RGBColor(0xb5, 0xdf, 0xa8), RGBColor(0xf7, 0xc2, 0x8c), RGBColor(0xd1, 0xb9, 0xe6)];

type Drawn = Result<(), String>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// `HH:MM:SS` (UTC) of Unix seconds; with tenths (`HH:MM:SS.s`) on an axis spanning under
/// 30 s, whose ticks fall within a second of each other.
fn clock(secs: f64, span: f64) -> String {
    let tenths = (secs * 10.0).floor() as i64;
    let day = tenths.div_euclid(10).rem_euclid(86_400);
    let hms = format!("{:02}:{:02}:{:02}", day / 3600, day % 3600 / 60, day % 60);
    if span < 30.0 { format!("{hms}.{}", tenths.rem_euclid(10)) } else { hms }
}

fn render(height: u32, draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Drawn) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&BACKGROUND).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Unix seconds of a round, and the window's span for the x axis (never empty).
fn x_range(m: &MonitorWindow) -> (f64, f64) {
    let first = m.rounds.first().map_or(0.0, |r| r.at_ms as f64 / 1000.0);
    let last = m.rounds.last().map_or(first, |r| r.at_ms as f64 / 1000.0);
    (first, if last > first { last } else { first + 1.0 })
}

/// p50, p95 and max latency per round on a log scale (answers in milliseconds and limits in
/// seconds both show), the `http_req_duration` thresholds as dashed lines, failed rounds as
/// red dots and the breach as a red vertical line.
pub fn latency(m: &MonitorWindow, limits: &[ThresholdLine]) -> Result<String, String> {
    let (x0, x1) = x_range(m);
    let limits: Vec<&ThresholdLine> =
        limits.iter().filter(|t| t.metric == "http_req_duration" && t.aggregation != "rate").collect();
    let values = m.rounds.iter().flat_map(|r| [r.p50_ms, r.max_ms]).flatten().chain(limits.iter().map(|t| t.limit));
    let (low, high) = values.fold((f64::MAX, 1.0_f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let bottom = (low.min(high) / 2.0).max(0.1);
    let top = high * 2.0;
    render(320, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(format!("latency per round, window #{} ({})", m.id, m.release), ("sans-serif", 16).into_font())
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, (bottom..top).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(8)
            .y_labels(8)
            .x_label_formatter(&|x| clock(*x, x1 - x0))
            .y_label_formatter(&|y| if *y >= 10.0 { format!("{y:.0} ms") } else { format!("{y:.1} ms") })
            .light_line_style(INK.mix(0.06))
            .bold_line_style(INK.mix(0.15))
            .axis_style(INK)
            .label_style(("sans-serif", 12).into_font().color(&INK))
            .draw()
            .map_err(err)?;
        for (name, color, pick) in [
            ("p50", P50, (|r: &crate::model::RoundPoint| r.p50_ms) as fn(&crate::model::RoundPoint) -> Option<f64>),
            ("p95", P95, |r| r.p95_ms),
            ("max", MAX, |r| r.max_ms),
        ] {
            let points: Vec<(f64, f64)> =
                m.rounds.iter().filter_map(|r| Some((r.at_ms as f64 / 1000.0, pick(r)?.max(bottom)))).collect();
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        for t in &limits {
            chart
                .draw_series(DashedLineSeries::new(vec![(x0, t.limit), (x1, t.limit)], 8, 5, LIMIT.stroke_width(2)))
                .map_err(err)?
                .label(format!("{} {}", t.metric, t.expr))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], LIMIT.stroke_width(2)));
        }
        let failed: Vec<(f64, f64)> = m
            .rounds
            .iter()
            .filter(|r| r.verdict == "failed")
            .map(|r| (r.at_ms as f64 / 1000.0, r.max_ms.unwrap_or(bottom).max(bottom)))
            .collect();
        if !failed.is_empty() {
            chart
                .draw_series(failed.into_iter().map(|p| Circle::new(p, 4, ERRORS.filled())))
                .map_err(err)?
                .label("failed round")
                .legend(|(x, y)| Circle::new((x + 9, y), 4, ERRORS.filled()));
        }
        if let Some(b) = &m.breach {
            breach_line(&mut chart, b.at_ms as f64 / 1000.0, bottom, top)?;
        }
        legend(&mut chart)
    })
}

/// The error rate per round (failed samples / samples) with the `http_req_failed` threshold.
pub fn error_rate(m: &MonitorWindow, limits: &[ThresholdLine]) -> Result<String, String> {
    let (x0, x1) = x_range(m);
    let limits: Vec<&ThresholdLine> = limits.iter().filter(|t| t.metric == "http_req_failed").collect();
    let top = m.rounds.iter().map(|r| r.error_rate).chain(limits.iter().map(|t| t.limit)).fold(0.05_f64, f64::max);
    let top = (top * 1.15).min(1.05);
    render(260, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(format!("error rate per round, window #{}", m.id), ("sans-serif", 16).into_font())
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, 0.0..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(8)
            .y_labels(5)
            .x_label_formatter(&|x| clock(*x, x1 - x0))
            .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
            .light_line_style(INK.mix(0.06))
            .bold_line_style(INK.mix(0.15))
            .axis_style(INK)
            .label_style(("sans-serif", 12).into_font().color(&INK))
            .draw()
            .map_err(err)?;
        let points: Vec<(f64, f64)> = m.rounds.iter().map(|r| (r.at_ms as f64 / 1000.0, r.error_rate)).collect();
        chart
            .draw_series(LineSeries::new(points, ERRORS.stroke_width(2)))
            .map_err(err)?
            .label("error rate")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], ERRORS.stroke_width(2)));
        for t in &limits {
            chart
                .draw_series(DashedLineSeries::new(vec![(x0, t.limit), (x1, t.limit)], 8, 5, LIMIT.stroke_width(2)))
                .map_err(err)?
                .label(format!("{} {}", t.metric, t.expr))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], LIMIT.stroke_width(2)));
        }
        if let Some(b) = &m.breach {
            breach_line(&mut chart, b.at_ms as f64 / 1000.0, 0.0, top)?;
        }
        legend(&mut chart)
    })
}

/// A chart over time; `Y` is linear (rates) or logarithmic (latency).
type Chart<'a, 'b, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>;

fn breach_line<'a, 'b: 'a, Y: Ranged<ValueType = f64>>(
    chart: &mut Chart<'a, 'b, Y>,
    x: f64,
    bottom: f64,
    top: f64,
) -> Drawn {
    chart
        .draw_series(LineSeries::new(vec![(x, bottom), (x, top)], BREACH.stroke_width(3)))
        .map_err(err)?
        .label("breach")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BREACH.stroke_width(3)));
    // The word sits left of the line, below the top, so it is never cut at the edge.
    let style = ("sans-serif", 13).into_font().color(&BREACH).pos(Pos::new(HPos::Right, VPos::Top));
    chart.draw_series(std::iter::once(Text::new("breach", (x, top), style))).map_err(err)?;
    Ok(())
}

fn legend<'a, 'b: 'a, Y: Ranged<ValueType = f64>>(chart: &mut Chart<'a, 'b, Y>) -> Drawn {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(BACKGROUND.mix(0.85))
        .border_style(INK.mix(0.3))
        .label_font(("sans-serif", 12).into_font().color(&INK))
        .draw()
        .map_err(err)
}

/// One row per host: each release's live stretch as a bar, and a mark for every deploy,
/// rollback, failure and forced gate.
pub fn timeline(hosts: &[HostTimeline]) -> Result<String, String> {
    let all: Vec<i64> = hosts.iter().flat_map(|h| h.events.iter().map(|e| e.at_ms)).filter(|&t| t > 0).collect();
    let x0 = all.iter().min().copied().unwrap_or(0) as f64 / 1000.0;
    let x1 = all.iter().max().copied().unwrap_or(0) as f64 / 1000.0;
    let pad = ((x1 - x0) * 0.04).max(1.0);
    let (x0, x1) = (x0 - pad, x1 + pad);
    let rows = hosts.len().max(1) as f64;
    let mut releases: Vec<&str> = Vec::new();
    // Room above the top row for the legend.
    let height = 170 + 60 * hosts.len() as u32;
    render(height, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("release timeline", ("sans-serif", 16).into_font())
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(110)
            .build_cartesian_2d(x0..x1, -0.6..(rows + 1.1))
            .map_err(err)?;
        let names: Vec<String> = hosts.iter().map(|h| h.host.clone()).collect();
        chart
            .configure_mesh()
            .x_labels(8)
            // Room for a tick a row (plotters picks the step 1): each row's is named, the one
            // above them stays blank.
            .y_labels(hosts.len() + 3)
            .disable_y_mesh()
            .x_label_formatter(&|x| clock(*x, x1 - x0))
            .y_label_formatter(&|y| {
                let i = y.round();
                if (y - i).abs() < 0.01 && i >= 0.0 {
                    names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .light_line_style(INK.mix(0.05))
            .bold_line_style(INK.mix(0.12))
            .axis_style(INK)
            .label_style(("sans-serif", 12).into_font().color(&INK))
            .draw()
            .map_err(err)?;
        for (row, host) in hosts.iter().enumerate() {
            let y = row as f64;
            // Live stretches: from each switch to the next (or to the end).
            let switches: Vec<_> =
                host.events.iter().filter(|e| matches!(e.kind.as_str(), "deploy" | "rollback" | "revert")).collect();
            for (i, e) in switches.iter().enumerate() {
                let release = e.release.as_deref().unwrap_or("?");
                let n = match releases.iter().position(|r| *r == release) {
                    Some(n) => n,
                    None => {
                        releases.push(release);
                        releases.len() - 1
                    }
                };
                let from = e.at_ms as f64 / 1000.0;
                let to = switches.get(i + 1).map_or(x1, |next| next.at_ms as f64 / 1000.0);
                let color = RELEASES[n % RELEASES.len()];
                chart
                    .draw_series(std::iter::once(Rectangle::new([(from, y - 0.18), (to, y + 0.18)], color.filled())))
                    .map_err(err)?;
                chart
                    .draw_series(std::iter::once(Text::new(
                        short(release),
                        (from, y + 0.42),
                        ("sans-serif", 11).into_font().color(&INK),
                    )))
                    .map_err(err)?;
            }
            for e in &host.events {
                let at = (e.at_ms as f64 / 1000.0, y);
                let color = match e.kind.as_str() {
                    "deploy" => DEPLOY,
                    "rollback" | "revert" | "rolled_back" => ROLLBACK,
                    "failed" => FAILED,
                    "forced" => FORCED,
                    _ => OTHER,
                };
                match e.kind.as_str() {
                    "deploy" => chart.draw_series(std::iter::once(Circle::new(at, 6, color.filled()))),
                    "rollback" | "revert" => {
                        chart.draw_series(std::iter::once(TriangleMarker::new(at, 8, color.filled())))
                    }
                    "failed" | "rolled_back" => {
                        chart.draw_series(std::iter::once(Cross::new(at, 6, color.stroke_width(3))))
                    }
                    "forced" => chart.draw_series(std::iter::once(Circle::new(at, 9, color.stroke_width(2)))),
                    _ => chart.draw_series(std::iter::once(Circle::new(at, 3, color.filled()))),
                }
                .map_err(err)?;
            }
        }
        // The legend: one entry per kind of mark.
        let none = || std::iter::empty::<Circle<(f64, f64), i32>>();
        chart
            .draw_series(none())
            .map_err(err)?
            .label("deploy")
            .legend(|(x, y)| Circle::new((x + 9, y), 5, DEPLOY.filled()));
        chart
            .draw_series(none())
            .map_err(err)?
            .label("rollback")
            .legend(|(x, y)| TriangleMarker::new((x + 9, y), 6, ROLLBACK.filled()));
        chart
            .draw_series(none())
            .map_err(err)?
            .label("failed / rolled back")
            .legend(|(x, y)| Cross::new((x + 9, y), 5, FAILED.stroke_width(2)));
        chart
            .draw_series(none())
            .map_err(err)?
            .label("gates forced")
            .legend(|(x, y)| Circle::new((x + 9, y), 6, FORCED.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(BACKGROUND.mix(0.85))
            .border_style(INK.mix(0.3))
            .label_font(("sans-serif", 12).into_font().color(&INK))
            .draw()
            .map_err(err)
    })
}

/// A release id's time part (`20261204T101500Z` → `10:15:00`), or the id.
fn short(release: &str) -> String {
    match release.split_once('T') {
        Some((_, t)) if t.len() >= 6 && t[..6].bytes().all(|b| b.is_ascii_digit()) => {
            format!("{}:{}:{}{}", &t[..2], &t[2..4], &t[4..6], t[6..].trim_start_matches('Z'))
        }
        _ => release.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_times_show_tenths_only_on_a_short_axis() {
        assert_eq!(clock(3_723.46, 3_600.0), "01:02:03");
        assert_eq!(clock(3_723.46, 12.0), "01:02:03.4");
        assert_eq!(clock(86_400.0 + 5.0, 60.0), "00:00:05");
    }

    #[test]
    fn release_ids_are_shortened_to_their_time() {
        assert_eq!(short("20261204T101500Z"), "10:15:00");
        assert_eq!(short("20261204T101500Z-2"), "10:15:00-2");
        assert_eq!(short("manual"), "manual");
    }
}
