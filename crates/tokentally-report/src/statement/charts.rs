//! The statement's charts, drawn with plotters into SVG text that the page holds
//! inline: no image files, no scripts, nothing fetched.
//!
//! Bar lengths and curve heights are `f64`: they are geometry, not money. Every
//! amount a reader can read is in the tables, formatted from the exact decimals.
//! Text in the SVG (app names) is escaped by plotters' SVG backend.

use crate::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive as _;

const WIDTH: u32 = 880;
/// Room for the longest label [`short`] leaves.
const LABEL_AREA: u32 = 230;
const FONT: &str = "sans-serif";
/// Colour-blind-safe (Okabe–Ito), then grey for "other".
const COLOURS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(150, 150, 150),
];

/// One bar: a label and its length.
#[derive(Debug, Clone)]
pub(crate) struct Bar {
    pub label: String,
    pub value: Decimal,
}

/// One band of a stacked chart: a label and a value per day.
#[derive(Debug, Clone)]
pub(crate) struct Band {
    pub label: String,
    pub values: Vec<Decimal>,
}

fn chart_error(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("drawing a statement chart: {e}"))
}

fn geometry(value: Decimal) -> f64 {
    value.to_f64().unwrap_or(0.0).max(0.0)
}

/// Labels longer than a chart has room for end in `…`; the tables have them whole.
fn short(label: &str) -> String {
    const MAX: usize = 32;
    if label.chars().count() <= MAX {
        return label.to_owned();
    }
    let mut cut: String = label.chars().take(MAX - 1).collect();
    cut.push('…');
    cut
}

/// Axis numbers: whole units once they are large enough to need no cents.
fn axis_number(v: f64) -> String {
    if v.abs() >= 10.0 {
        super::numbers::count(v.round() as i64)
    } else {
        format!("{v:.2}")
    }
}

/// The SVG as an element of the page: the namespace is implied in HTML, and
/// leaving it out keeps the page free of any URL.
fn inline(svg: String) -> String {
    svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
}

/// A horizontal bar chart, first bar at the top; `axis` names the amounts.
pub(crate) fn bars(bars: &[Bar], axis: &str) -> Result<String> {
    let n = bars.len().max(1);
    let height = 60 + 26 * u32::try_from(n).unwrap_or(u32::MAX / 64).min(400);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        draw_bars(&root, bars, n, axis)?;
        root.present().map_err(chart_error)?;
    }
    Ok(inline(svg))
}

fn draw_bars(root: &DrawingArea<SVGBackend<'_>, Shift>, bars: &[Bar], n: usize, axis: &str) -> Result<()> {
    root.fill(&WHITE).map_err(chart_error)?;
    let max = bars.iter().map(|b| geometry(b.value)).fold(0.0_f64, f64::max);
    let top = if max > 0.0 { max * 1.08 } else { 1.0 };
    let labels: Vec<String> = bars.iter().map(|b| short(&b.label)).collect();
    // A segmented `0..k` axis has k + 1 rows: `0..n-1` gives exactly n (the top
    // bar's upper edge, `n`, maps to the axis end). One bar keeps `0..1`, as a
    // one-value range cannot be mapped.
    let slots = if n > 1 { n - 1 } else { 1 };
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(LABEL_AREA)
        .build_cartesian_2d(0.0..top, (0..slots).into_segmented())
        .map_err(chart_error)?;
    // Slot 0 is the bottom row: bar k sits in slot n-1-k so the list reads down.
    let label_of = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(slot) => n
            .checked_sub(slot + 1)
            .and_then(|k| labels.get(k))
            .cloned()
            .unwrap_or_default(),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&label_of)
        .x_labels(6)
        .x_label_formatter(&|v: &f64| axis_number(*v))
        .x_desc(axis)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(chart_error)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(k, b)| {
            let slot = n - 1 - k;
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(slot)),
                    (geometry(b.value), SegmentValue::Exact(slot + 1)),
                ],
                COLOURS[0].filled(),
            );
            bar.set_margin(4, 4, 0, 0);
            bar
        }))
        .map_err(chart_error)?;
    Ok(())
}

/// Bands stacked day by day (the first band at the bottom), with a legend.
pub(crate) fn stacked_days(bands: &[Band], axis: &str) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 380)).into_drawing_area();
        draw_stacked(&root, bands, axis)?;
        root.present().map_err(chart_error)?;
    }
    Ok(inline(svg))
}

fn draw_stacked(root: &DrawingArea<SVGBackend<'_>, Shift>, bands: &[Band], axis: &str) -> Result<()> {
    root.fill(&WHITE).map_err(chart_error)?;
    let days = bands.iter().map(|b| b.values.len()).max().unwrap_or(0);
    // The running sum of the bands below and including each band, per day.
    let mut tops: Vec<Vec<f64>> = Vec::with_capacity(bands.len());
    for band in bands {
        let below = tops.last().cloned().unwrap_or_else(|| vec![0.0; days]);
        let mut top = below;
        for (sum, v) in top.iter_mut().zip(&band.values) {
            *sum += geometry(*v);
        }
        tops.push(top);
    }
    let max = tops
        .last()
        .map_or(0.0, |t| t.iter().copied().fold(0.0_f64, f64::max));
    let last_day = u32::try_from(days.max(2)).unwrap_or(31);
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(1..last_day, 0.0..if max > 0.0 { max * 1.1 } else { 1.0 })
        .map_err(chart_error)?;
    chart
        .configure_mesh()
        .x_labels(usize::try_from(last_day).unwrap_or(31))
        .x_desc("day of the month")
        .y_desc(axis)
        .y_label_formatter(&|v: &f64| axis_number(*v))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(chart_error)?;
    // Tallest first, so each lower band is drawn over the one above it.
    for (i, (band, top)) in bands.iter().zip(&tops).enumerate().rev() {
        let colour = COLOURS[i.min(COLOURS.len() - 1)];
        let points = top
            .iter()
            .enumerate()
            .map(|(d, &y)| (u32::try_from(d + 1).unwrap_or(0), y));
        chart
            .draw_series(AreaSeries::new(points, 0.0, colour.filled()).border_style(BLACK.stroke_width(1)))
            .map_err(chart_error)?
            .label(short(&band.label))
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 12, y + 6)], colour.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font((FONT, 13))
        .draw()
        .map_err(chart_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_cut() {
        let svg = bars(
            &[Bar {
                label: "<script>alert(1)</script>".into(),
                value: Decimal::ONE,
            }],
            "USD",
        )
        .expect("chart");
        assert!(!svg.contains("<script"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"), "{svg}");
        assert!(!svg.contains("http"), "{svg}");
        assert_eq!(short(&"x".repeat(40)).chars().count(), 32);
    }

    #[test]
    fn an_empty_month_still_draws() {
        assert!(bars(&[], "USD").expect("chart").starts_with("<svg"));
        assert!(stacked_days(&[], "USD").expect("chart").starts_with("<svg"));
    }
}
