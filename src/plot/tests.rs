use super::*;

/// Reads a PNG: checks its signature, returns width, height and the number of non-white pixels.
fn read_png(path: &Path) -> (u32, u32, usize) {
    let bytes = fs::read(path).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is not a PNG", path.display());
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let non_white = buf[..info.buffer_size()].chunks(channels).filter(|p| p.iter().take(3).any(|c| *c < 240)).count();
    (info.width, info.height, non_white)
}

/// Checks the PNG and SVG of a still plot; returns the SVG text.
fn check_outputs(stem: &Path, size: (u32, u32)) -> String {
    let (w, h, non_white) = read_png(&stem.with_extension("png"));
    assert_eq!((w, h), size);
    assert!(non_white > (w * h / 100) as usize, "PNG looks blank: {non_white} non-white pixels");
    let svg = fs::read_to_string(stem.with_extension("svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    let leftovers: Vec<_> = fs::read_dir(stem.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    svg
}

fn loss_panel() -> Panel {
    let t: Vec<f64> = (0..100).map(|i| f64::from(i) * 10.0).collect();
    let mut loss: Vec<f64> = t.iter().map(|t| 0.5 * (-t / 200.0).exp()).collect();
    loss[0] = 0.0;
    loss[10] = f64::NAN;
    loss[20] = f64::INFINITY;
    loss[30] = -1.0;
    let lower = loss.iter().map(|v| v * 0.5 - 0.01).collect();
    let upper = loss.iter().map(|v| v * 2.0).collect();
    Panel {
        title: "Training loss".into(),
        x_label: "step".into(),
        y_label: "mean squared error".into(),
        y_scale: Scale::Log,
        series: vec![
            Series { band: Some((lower, upper)), ..Series::new("gradient flow", t.clone(), loss) },
            Series {
                mark: Mark::Dashed,
                ..Series::new("Langevin", t.clone(), t.iter().map(|t| 1.0 / (1.0 + t)).collect())
            },
        ],
        ..Panel::default()
    }
}

#[test]
fn figure_writes_png_and_svg_with_labels() {
    let dir = tempfile::tempdir().unwrap();
    let stem = dir.path().join("nested/deeper/loss");
    let gap = Panel {
        series: vec![
            Series { mark: Mark::Points, ..Series::new("gap", vec![1.0, 2.0, 3.0], vec![0.3, -0.1, 0.2]) },
            Series { mark: Mark::LinePoints, ..Series::new("", vec![1.0, 2.0], vec![0.0, 0.1]) },
        ],
        ..Panel::new("Duality gap", "time t", "gap")
    };
    figure(&stem, &[loss_panel(), gap]).unwrap();
    let svg = check_outputs(&stem, (2 * PANEL_SIZE.0, PANEL_SIZE.1));
    for text in ["Training loss", "step", "mean squared error", "gradient flow", "Langevin", "Duality gap", "time t"] {
        assert!(svg.contains(text), "SVG lacks {text:?}");
    }
    assert!(svg.contains("10⁻"), "log axis labelled by powers of ten");
    assert!(!svg.contains("no data"));
}

#[test]
fn figure_lays_out_a_grid_and_accepts_an_extension() {
    let dir = tempfile::tempdir().unwrap();
    let panels = vec![loss_panel(); 4];
    figure(&dir.path().join("grid.png"), &panels).unwrap();
    check_outputs(&dir.path().join("grid"), (2 * PANEL_SIZE.0, 2 * PANEL_SIZE.1));
    assert!(!dir.path().join("grid.png.png").exists());
    assert_eq!(grid(1), (1, 1));
    assert_eq!(grid(3), (1, 3));
    assert_eq!(grid(5), (2, 3));
    assert_eq!(grid(9), (3, 3));
}

#[test]
fn degenerate_panels_are_drawn_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let stem = dir.path().join("degenerate");
    let panels = [
        Panel { series: vec![Series::new("empty", vec![], vec![])], ..Panel::new("Empty", "x", "y") },
        Panel {
            x_scale: Scale::Log,
            y_scale: Scale::Log,
            series: vec![Series::new("skipped", vec![0.0, -1.0, f64::NAN], vec![1.0, 2.0, 3.0])],
            ..Panel::new("All skipped", "x", "y")
        },
        Panel { series: vec![Series::new("flat", vec![5.0; 3], vec![2.0; 3])], ..Panel::new("Constant", "x", "y") },
        Panel::new("No series", "x", "y"),
    ];
    figure(&stem, &panels).unwrap();
    let svg = check_outputs(&stem, (2 * PANEL_SIZE.0, 2 * PANEL_SIZE.1));
    assert_eq!(svg.matches("no data").count(), 3);
}

#[test]
fn bad_input_is_a_plot_error() {
    let dir = tempfile::tempdir().unwrap();
    let stem = dir.path().join("bad");
    let mismatch = Panel { series: vec![Series::new("s", vec![1.0, 2.0], vec![1.0])], ..Panel::default() };
    let band = Panel {
        series: vec![Series {
            band: Some((vec![0.0], vec![1.0, 2.0])),
            ..Series::new("b", vec![1.0, 2.0], vec![1.0, 2.0])
        }],
        ..Panel::default()
    };
    for panels in [vec![], vec![mismatch], vec![band]] {
        match figure(&stem, &panels) {
            Err(Error::Plot { path, message }) => {
                assert_eq!(path, stem);
                assert!(!message.is_empty());
            }
            other => panic!("expected a plot error, got {other:?}"),
        }
    }
    fs::write(dir.path().join("file"), "not a directory").unwrap();
    let blocked = dir.path().join("file/sub/plot");
    assert!(matches!(figure(&blocked, &[loss_panel()]), Err(Error::Plot { .. })));
    let heat = Heatmap { x: vec![1.0, 2.0], y: vec![1.0], z: vec![vec![1.0]], ..Heatmap::default() };
    assert!(matches!(heatmap(&stem, &heat), Err(Error::Plot { .. })));
    assert!(fs::read_dir(dir.path()).unwrap().all(|e| e.unwrap().file_name() == "file"));
}

#[test]
fn scatter_colours_by_sign_and_skips_bad_points() {
    let dir = tempfile::tempdir().unwrap();
    let stem = dir.path().join("particles");
    let mut points: Vec<Point> = (0..200)
        .map(|i| {
            let a = f64::from(i) * 0.1;
            Point { x: a.cos(), y: a.sin(), size: f64::from(i % 7), positive: i % 2 == 0 }
        })
        .collect();
    points.push(Point { x: f64::NAN, y: 0.0, size: 1.0, positive: true });
    points.push(Point { x: 0.0, y: 0.0, size: f64::INFINITY, positive: true });
    let s = Scatter {
        title: "Particles".into(),
        x_label: "first coordinate".into(),
        y_label: "second coordinate".into(),
        points,
        marks: vec![(1.0, 0.0), (f64::NAN, 1.0)],
        bounds: None,
    };
    scatter(&stem, &s).unwrap();
    let svg = check_outputs(&stem, SCATTER_SIZE);
    for text in ["Particles", "first coordinate", "second coordinate", "positive", "negative", "reference"] {
        assert!(svg.contains(text), "SVG lacks {text:?}");
    }
    let png = fs::read(stem.with_extension("png")).unwrap();
    let mut reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(info.color_type.samples()).collect();
    let reddish = pixels.iter().filter(|p| p[0] > 200 && p[2] < 180 && p[1] < 180).count();
    let bluish = pixels.iter().filter(|p| p[2] > 150 && p[0] < 150).count();
    assert!(reddish > 500 && bluish > 500, "red {reddish}, blue {bluish}");

    let empty = Scatter { bounds: Some((-1.0, 1.0, -1.0, 1.0)), ..Scatter::default() };
    scatter(&dir.path().join("empty"), &empty).unwrap();
    assert!(fs::read_to_string(dir.path().join("empty.svg")).unwrap().contains("no data"));
}

#[test]
fn heatmap_draws_missing_cells_grey() {
    let dir = tempfile::tempdir().unwrap();
    let stem = dir.path().join("sweep");
    let h = Heatmap {
        title: "Final loss".into(),
        x_label: "step size".into(),
        y_label: "width".into(),
        value_label: "loss".into(),
        x: vec![1e-3, 1e-2, 1e-1],
        y: vec![10.0, 100.0],
        z: vec![vec![1e-4, f64::NAN, 0.0], vec![1e-2, 1e-1, 1.0]],
        x_scale: Scale::Log,
        y_scale: Scale::Log,
        z_scale: Scale::Log,
    };
    heatmap(&stem, &h).unwrap();
    let svg = check_outputs(&stem, HEATMAP_SIZE);
    for text in ["Final loss", "step size", "width", "loss", "missing", "10⁻³"] {
        assert!(svg.contains(text), "SVG lacks {text:?}");
    }
    let grey = format!("{:02X}{:02X}{:02X}", MISSING.0, MISSING.1, MISSING.2);
    assert!(svg.to_uppercase().contains(&grey), "no grey cell");

    let linear = Heatmap { x_scale: Scale::Linear, y_scale: Scale::Linear, z_scale: Scale::Linear, ..h.clone() };
    heatmap(&dir.path().join("linear"), &linear).unwrap();
    let all_missing = Heatmap { z: vec![vec![f64::NAN; 3]; 2], ..h };
    heatmap(&dir.path().join("nan"), &all_missing).unwrap();
    assert!(fs::read_to_string(dir.path().join("nan.svg")).unwrap().contains("missing"));
    heatmap(&dir.path().join("empty"), &Heatmap::default()).unwrap();
    assert!(fs::read_to_string(dir.path().join("empty.svg")).unwrap().contains("no data"));
}

#[test]
fn animation_has_one_gif_frame_per_call() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("anim/cloud.gif");
    let mut animation = Animation::new(&path, 320, 240, 50).unwrap();
    for k in 0..3 {
        let s = Scatter {
            title: format!("step {k}"),
            points: vec![Point { x: f64::from(k), y: 1.0, size: 1.0, positive: true }],
            bounds: Some((-1.0, 4.0, 0.0, 2.0)),
            ..Scatter::default()
        };
        animation.frame(&s).unwrap();
    }
    assert!(!path.exists(), "the GIF appears only when finished");
    animation.finish().unwrap();
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    let mut decoder = options.read_info(fs::File::open(&path).unwrap()).unwrap();
    assert_eq!((decoder.width(), decoder.height()), (320, 240));
    let mut frames = 0;
    while let Some(frame) = decoder.read_next_frame().unwrap() {
        assert_eq!(frame.delay, 5);
        assert!(frame.buffer.chunks(4).filter(|p| p[..3].iter().any(|c| *c < 240)).count() > 1000);
        frames += 1;
    }
    assert_eq!(frames, 3);

    let unused = dir.path().join("unused.gif");
    assert!(matches!(Animation::new(&unused, 100, 100, 10).unwrap().finish(), Err(Error::Plot { .. })));
    drop(Animation::new(&unused, 100, 100, 10).unwrap());
    assert!(matches!(Animation::new(&unused, 0, 100, 10), Err(Error::Plot { .. })));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "only anim/ is left");
}

#[test]
fn ranges_are_padded_and_never_degenerate() {
    let (lo, hi) = data_range(&[3.0, 3.0], Scale::Linear, true);
    assert!(lo < 3.0 && hi > 3.0);
    let (lo, hi) = data_range(&[0.0], Scale::Linear, true);
    assert!(lo < 0.0 && hi > 0.0);
    let (lo, hi) = data_range(&[1.0, 2.0, f64::NAN, f64::INFINITY], Scale::Linear, true);
    assert!((lo - 0.95).abs() < 1e-12 && (hi - 2.05).abs() < 1e-12);
    assert_eq!(data_range(&[], Scale::Linear, true), (0.0, 1.0));
    let (lo, hi) = data_range(&[0.002, 0.5, 0.0, -3.0], Scale::Log, true);
    assert!((lo - 1e-3).abs() < 1e-15 && (hi - 1.0).abs() < 1e-12, "{lo} {hi}");
    let (lo, hi) = data_range(&[0.5, 2.0], Scale::Log, true);
    assert!(lo < 0.5 && lo > 0.4 && hi > 2.0 && hi < 2.5, "narrow log range kept tight: {lo} {hi}");
    let (lo, hi) = data_range(&[7.0], Scale::Log, true);
    assert!(lo < 7.0 && hi > 7.0);
    assert_eq!(data_range(&[1.0, 5.0], Scale::Linear, false), (1.0, 5.0));
}

#[test]
fn ticks_are_round_numbers_with_consistent_labels() {
    let (major, labels, minor) = linear_ticks(-0.05, 1.05, 6);
    assert_eq!(labels, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
    assert_eq!(major.len(), 6);
    assert!(!minor.is_empty());
    let (_, labels, _) = linear_ticks(0.0, 3e-6, 4);
    assert_eq!(labels, ["0", "1e-6", "2e-6", "3e-6"]);
    let (_, labels, _) = linear_ticks(-20.0, 20.0, 4);
    assert_eq!(labels, ["-20", "-10", "0", "10", "20"]);
    let (major, labels, minor) = log_ticks(1e-3, 1.0, 8);
    assert_eq!(labels, ["10⁻³", "10⁻²", "10⁻¹", "10⁰"]);
    assert_eq!(major.len(), 4);
    assert_eq!(minor.len(), 24);
    let (_, labels, _) = log_ticks(1e-30, 1e10, 8);
    assert!(labels.len() <= 8 && labels.len() >= 4, "{labels:?}");
    let (_, labels, _) = log_ticks(0.4, 2.5, 8);
    assert_eq!(labels, ["0.5", "1", "2"]);
    let (_, labels, _) = log_ticks(1.1, 1.9, 5);
    assert!(labels.len() >= 2, "{labels:?}");
    assert_eq!(format_value(0.001), "0.001");
    assert_eq!(format_value(2.5e-7), "2.5e-7");
    assert_eq!(format_value(-3.0), "-3");
    assert_eq!(format_value(123456.0), "1.235e5");
    assert_eq!(power_of_ten(-12), "10⁻¹²");
}

#[test]
fn legend_goes_to_the_emptiest_corner() {
    let crowded_right: Vec<(f64, f64)> = (0..50).map(|i| (0.9, f64::from(i) / 49.0)).collect();
    assert!(matches!(legend_corner(&crowded_right, 0.3, 0.2), SeriesLabelPosition::UpperLeft));
    assert!(matches!(legend_corner(&[], 0.3, 0.2), SeriesLabelPosition::UpperRight));
    let high: Vec<(f64, f64)> = (0..50).map(|i| (f64::from(i) / 49.0, 0.95)).collect();
    assert!(matches!(legend_corner(&high, 0.3, 0.2), SeriesLabelPosition::LowerRight));
}

#[test]
fn categorical_and_numeric_heatmap_axes() {
    let (axis, cells) = cell_axis(&[1e-3, 1e-2, 1e-1], Scale::Log, 10);
    assert_eq!(cells, [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]);
    assert_eq!(axis.labels, ["10⁻³", "10⁻²", "10⁻¹"]);
    let (axis, cells) = cell_axis(&[2.0, 0.0, 1.0], Scale::Linear, 10);
    assert_eq!(cells, [(1.5, 2.5), (-0.5, 0.5), (0.5, 1.5)]);
    assert_eq!((axis.lo, axis.hi), (-0.5, 2.5));
    let (_, cells) = cell_axis(&[1.0, 1.0], Scale::Linear, 10);
    assert_eq!(cells, [(0.0, 1.0), (1.0, 2.0)]);
    let (axis, _) = cell_axis(&(0..100).map(f64::from).collect::<Vec<_>>(), Scale::Log, 10);
    assert!(axis.major.len() <= 10);
}

#[test]
fn log_axes_get_three_labels_and_time_axes_start_at_zero() {
    // Two powers of ten in range: 1-2-5 ticks; one: every multiple.
    assert_eq!(log_ticks(0.008, 0.2, 8).1, ["0.01", "0.02", "0.05", "0.1", "0.2"]);
    assert_eq!(log_ticks(0.12, 0.45, 8).1, ["0.2", "0.3", "0.4"]);
    // t = 0 at the left edge, labelled 0, and the axis ends with the data.
    let series = vec![Series::new("L", vec![0.0, 10.0, 20.0, 2000.0], vec![1.0, 0.5, 0.4, 0.3])];
    let axis = zero_axis(&series).unwrap();
    assert_eq!(axis.hi, 2000.0);
    assert!(axis.lo > 5.0 && axis.lo < 10.0, "{}", axis.lo);
    assert_eq!((axis.major[0], axis.labels[0].as_str()), (axis.lo, "0"));
    assert_eq!(&axis.labels[1..], ["10¹", "10²", "10³"]);
    assert!(axis.minor.iter().all(|m| *m >= 10.0), "no ticks in the gap before the first time");
    assert!(zero_axis(&[Series::new("t = 0 only", vec![0.0], vec![1.0])]).is_none());
    let panel = Panel { x_scale: Scale::Log, x_from_zero: true, series, ..Panel::new("L", "time t", "L") };
    let dir = tempfile::tempdir().unwrap();
    figure(&dir.path().join("zero"), &[panel]).unwrap();
    let svg = fs::read_to_string(dir.path().join("zero.svg")).unwrap();
    assert!(svg.contains(">\n0\n</text>"), "the tick at t = 0 is labelled");
}

#[test]
fn legends_avoid_the_inside_of_bands() {
    let band =
        Series { band: Some((vec![0.0, 0.0], vec![1.0, 1.0])), ..Series::new("b", vec![0.0, 10.0], vec![0.5, 0.5]) };
    let mut footprint = Vec::new();
    Prepared::new(&band, false, false).footprint(Mark::Line, &mut footprint);
    assert!(footprint.iter().any(|(x, y)| *x == 2.5 && (*y - 1.0 / 6.0).abs() < 1e-12), "{footprint:?}");
    assert!(footprint.iter().any(|(x, y)| *x == 7.5 && (*y - 5.0 / 6.0).abs() < 1e-12), "{footprint:?}");
}
