//! The paper's Figure 2 style plot: training and test error against
//! training wall time, log-scale error axis, with the paper's final errors
//! as dashed reference lines.

use std::path::Path;

use hessfree::presets::PaperResult;
use plotters::prelude::*;

use crate::history::Point;

const TRAIN_COLOR: RGBColor = RGBColor(31, 119, 180);
const TEST_COLOR: RGBColor = RGBColor(214, 39, 40);

/// Draws the plot to a PNG file.
pub fn draw(
    path: &Path,
    title: &str,
    points: &[Point],
    paper: Option<PaperResult>,
) -> Result<(), String> {
    draw_inner(path, title, points, paper)
        .map_err(|e| format!("cannot draw plot '{}': {e}", path.display()))
}

/// A tick label with three significant digits and no trailing zeros.
fn short(v: f64) -> String {
    if v <= 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let decimals = (2 - v.log10().floor() as i32).max(0) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

fn series(points: &[Point], pick: fn(&Point) -> Option<f64>) -> Vec<(f64, f64)> {
    points
        .iter()
        .filter_map(|p| {
            pick(p)
                .filter(|e| e.is_finite() && *e > 0.0)
                .map(|e| (p.seconds, e))
        })
        .collect()
}

/// The y range: every plotted value, padded by a little on the log scale.
fn y_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values.fold((f64::INFINITY, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    (lo.is_finite() && hi > 0.0).then(|| (lo / 1.3, hi * 1.3))
}

fn draw_inner(
    path: &Path,
    title: &str,
    points: &[Point],
    paper: Option<PaperResult>,
) -> Result<(), Box<dyn std::error::Error>> {
    let train = series(points, |p| p.train_error);
    let test = series(points, |p| p.test_error);
    let paper_values = paper.iter().flat_map(|p| [p.train_error, p.test_error]);
    let plotted = train.iter().chain(&test).map(|&(_, e)| e);
    let (y_lo, y_hi) = y_range(plotted.chain(paper_values)).ok_or("no finite errors to plot")?;
    let x_hi = points
        .iter()
        .map(|p| p.seconds)
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.02;

    let root = BitMapBackend::new(path, (960, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..x_hi, (y_lo..y_hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("training wall time (s)")
        .y_desc("error (mean squared reconstruction error)")
        .y_label_formatter(&|v| short(*v))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()?;
    let line = |color: RGBColor| color.stroke_width(2);
    chart
        .draw_series(LineSeries::new(train.clone(), line(TRAIN_COLOR)))?
        .label("train error")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], line(TRAIN_COLOR)));
    chart
        .draw_series(LineSeries::new(test.clone(), line(TEST_COLOR)))?
        .label("test error")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], line(TEST_COLOR)));
    if let Some(paper) = paper {
        for (value, color, label) in [
            (paper.train_error, TRAIN_COLOR, "paper, train (Table 2)"),
            (paper.test_error, TEST_COLOR, "paper, test (Table 2)"),
        ] {
            let dashed = color.mix(0.6).stroke_width(1);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(0.0, value), (x_hi, value)],
                    8,
                    6,
                    dashed,
                ))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], dashed));
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
