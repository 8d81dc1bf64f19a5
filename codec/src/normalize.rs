//! Normalization frozen at training time: fitted once on the training data and saved with the
//! model, so that any later data is scaled exactly as the network saw it during training.

use ndarray::{ArrayD, ArrayView2, Axis, Ix2, IxDyn, Zip};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum NormalizationKind {
    /// Each feature mapped onto [0, 1] by its training minimum and maximum.
    #[default]
    MinMax,
    /// Each feature shifted by its training mean and divided by its standard deviation.
    Standard,
    /// Values passed through unchanged.
    None,
}

/// A normalization named by no kind there is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown normalization '{0}'; choose min-max, standard or none")]
pub struct UnknownNormalization(pub String);

/// Data whose feature layout is not the one the normalization was fitted to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncompatibleData {
    #[error("the saved normalization is damaged: {offsets} offsets but {scales} scales")]
    Damaged { offsets: usize, scales: usize },
    #[error("the model was trained on {trained}, the data has {columns}", trained = columns_text(*.trained))]
    Columns { trained: usize, columns: usize },
    #[error("the model was trained on a table of {trained} columns, the data has shape {shape:?} and is not a table")]
    NotATable { trained: usize, shape: Vec<usize> },
}

impl std::str::FromStr for NormalizationKind {
    type Err = UnknownNormalization;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "min-max" => Ok(NormalizationKind::MinMax),
            "standard" => Ok(NormalizationKind::Standard),
            "none" => Ok(NormalizationKind::None),
            _ => Err(UnknownNormalization(text.to_string())),
        }
    }
}

impl std::fmt::Display for NormalizationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NormalizationKind::MinMax => "min-max",
            NormalizationKind::Standard => "standard",
            NormalizationKind::None => "none",
        })
    }
}

/// Per-feature affine map x -> (x - offset) / scale, fitted once on training data and saved with the model,
/// so that new data is normalized exactly as the training data was.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Normalization {
    pub kind: NormalizationKind,
    pub offset: Vec<f64>,
    pub scale: Vec<f64>,
}

impl Normalization {
    /// Tables ([rows, columns]): one (offset, scale) per column. Anything of higher rank (fields):
    /// one global pair for all values (a field's pixels are one quantity).
    /// MinMax: offset=min, scale=max-min. Standard: offset=mean, scale=population std.
    /// A constant feature (scale 0 or non-finite) gets scale 1 so nothing divides by zero,
    /// and a feature without any values gets offset 0.
    pub fn fit(kind: NormalizationKind, values: &ArrayD<f64>) -> Normalization {
        let (offset, scale) = match values.view().into_dimensionality::<Ix2>() {
            Ok(table) => fit_columns(kind, table),
            Err(_) => fit_globally(kind, values),
        };
        let offset = offset.into_iter().map(|o| if o.is_finite() { o } else { 0.0 }).collect();
        let scale = scale.into_iter().map(|s| if s.is_finite() && s != 0.0 { s } else { 1.0 }).collect();
        Normalization { kind, offset, scale }
    }

    /// Normalized f32 values, same shape.
    /// Panics if `values` has another feature layout than fitted; see [`Normalization::check_compatible`].
    pub fn apply(&self, values: &ArrayD<f64>) -> ArrayD<f32> {
        self.assert_compatible(values.shape());
        let (offset, scale) = self.broadcastable();
        Zip::from(values).and_broadcast(&offset).and_broadcast(&scale).map_collect(|&x, &o, &s| ((x - o) / s) as f32)
    }

    /// Values back in the data's own units, same shape.
    /// Panics if `values` has another feature layout than fitted; see [`Normalization::check_compatible`].
    pub fn invert(&self, values: &ArrayD<f32>) -> ArrayD<f64> {
        self.assert_compatible(values.shape());
        let (offset, scale) = self.broadcastable();
        Zip::from(values).and_broadcast(&offset).and_broadcast(&scale).map_collect(|&y, &o, &s| f64::from(y) * s + o)
    }

    /// Feature count it was fitted on (1 for fields).
    pub fn features(&self) -> usize {
        self.offset.len()
    }

    /// Error when `values` has a different feature layout than fitted:
    /// "the model was trained on 24 columns, the data has 23".
    pub fn check_compatible(&self, values: &ArrayD<f64>) -> Result<(), IncompatibleData> {
        self.check_shape(values.shape())
    }

    fn check_shape(&self, shape: &[usize]) -> Result<(), IncompatibleData> {
        let trained = self.features();
        if self.scale.len() != trained {
            return Err(IncompatibleData::Damaged { offsets: trained, scales: self.scale.len() });
        }
        match shape {
            [_, columns] if *columns == trained => Ok(()),
            &[_, columns] => Err(IncompatibleData::Columns { trained, columns }),
            _ if trained == 1 => Ok(()),
            _ => Err(IncompatibleData::NotATable { trained, shape: shape.to_vec() }),
        }
    }

    fn assert_compatible(&self, shape: &[usize]) {
        if let Err(message) = self.check_shape(shape) {
            panic!("{message}");
        }
    }

    /// Offsets and scales as arrays that broadcast over the data: along the columns of a table,
    /// or as a single value over every element of fields.
    fn broadcastable(&self) -> (ArrayD<f64>, ArrayD<f64>) {
        let as_array = |v: &Vec<f64>| ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.clone()).expect("a vector is 1-D");
        (as_array(&self.offset), as_array(&self.scale))
    }
}

fn columns_text(count: usize) -> String {
    match count {
        1 => "a single column (or on fields)".to_string(),
        _ => format!("{count} columns"),
    }
}

fn fit_columns(kind: NormalizationKind, table: ArrayView2<f64>) -> (Vec<f64>, Vec<f64>) {
    let columns = table.ncols();
    match kind {
        NormalizationKind::MinMax => {
            let low = table.fold_axis(Axis(0), f64::INFINITY, |&low, &x| low.min(x));
            let high = table.fold_axis(Axis(0), f64::NEG_INFINITY, |&high, &x| high.max(x));
            (low.to_vec(), (&high - &low).to_vec())
        }
        NormalizationKind::Standard => {
            let mean = table.mean_axis(Axis(0)).map_or(vec![0.0; columns], |mean| mean.to_vec());
            (mean, table.std_axis(Axis(0), 0.0).to_vec())
        }
        NormalizationKind::None => (vec![0.0; columns], vec![1.0; columns]),
    }
}

fn fit_globally(kind: NormalizationKind, values: &ArrayD<f64>) -> (Vec<f64>, Vec<f64>) {
    let (offset, scale) = match kind {
        NormalizationKind::MinMax => {
            let low = values.fold(f64::INFINITY, |low, &x| low.min(x));
            let high = values.fold(f64::NEG_INFINITY, |high, &x| high.max(x));
            (low, high - low)
        }
        NormalizationKind::Standard => (values.mean().unwrap_or(0.0), values.std(0.0)),
        NormalizationKind::None => (0.0, 1.0),
    };
    (vec![offset], vec![scale])
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    /// Columns of different magnitudes and signs, like a jets table.
    fn training_table() -> ArrayD<f64> {
        Array2::from_shape_fn((1000, 3), |(row, column)| {
            let x = (row as f64 * 0.37).sin() + row as f64 / 1000.0;
            [x * 500.0 + 20.0, x - 3.0, (x * 1e-3).exp()][column]
        })
        .into_dyn()
    }

    fn column_stats(values: &ArrayD<f32>, column: usize) -> (f64, f64, f64, f64) {
        let column: Vec<f64> = values.index_axis(Axis(1), column).iter().map(|&v| f64::from(v)).collect();
        let n = column.len() as f64;
        let mean = column.iter().sum::<f64>() / n;
        let std = (column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        let min = column.iter().copied().fold(f64::INFINITY, f64::min);
        let max = column.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (min, max, mean, std)
    }

    #[test]
    fn min_max_maps_each_column_onto_zero_one() {
        let train = training_table();
        let normalization = Normalization::fit(NormalizationKind::MinMax, &train);
        let normalized = normalization.apply(&train);
        for column in 0..3 {
            let (min, max, _, _) = column_stats(&normalized, column);
            assert_eq!((min, max), (0.0, 1.0), "column {column}");
        }
    }

    #[test]
    fn standard_gives_zero_mean_and_unit_deviation() {
        let train = training_table();
        let normalized = Normalization::fit(NormalizationKind::Standard, &train).apply(&train);
        for column in 0..3 {
            let (_, _, mean, std) = column_stats(&normalized, column);
            assert!(mean.abs() < 1e-5 && (std - 1.0).abs() < 1e-5, "column {column}: mean {mean}, std {std}");
        }
    }

    #[test]
    fn invert_undoes_apply() {
        let train = training_table();
        for kind in [NormalizationKind::MinMax, NormalizationKind::Standard, NormalizationKind::None] {
            let normalization = Normalization::fit(kind, &train);
            let back = normalization.invert(&normalization.apply(&train));
            // Normalized values are f32, precise to ~1e-7 of the value or of the feature's scale.
            let scale = normalization.broadcastable().1;
            Zip::from(&back).and(&train).and_broadcast(&scale).for_each(|&b, &x, &s| {
                assert!((b - x).abs() <= 1e-6 * x.abs().max(s), "{kind}: {b} != {x}");
            });
        }
    }

    #[test]
    fn constant_columns_stay_finite() {
        let train = array![[5.0, 1.0], [5.0, 2.0], [5.0, 3.0]].into_dyn();
        for kind in [NormalizationKind::MinMax, NormalizationKind::Standard] {
            let normalization = Normalization::fit(kind, &train);
            assert_eq!(normalization.scale[0], 1.0);
            let normalized = normalization.apply(&train);
            assert!(normalized.iter().all(|v| v.is_finite()), "{kind}: {normalized}");
            assert_eq!(normalized[[0, 0]], 0.0);
        }
    }

    #[test]
    fn fields_share_one_pair() {
        let fields = ArrayD::from_shape_fn(IxDyn(&[4, 5, 6]), |i| (i[0] * 30 + i[1] * 6 + i[2]) as f64);
        let normalization = Normalization::fit(NormalizationKind::MinMax, &fields);
        assert_eq!((normalization.offset.as_slice(), normalization.scale.as_slice()), (&[0.0][..], &[119.0][..]));
        assert_eq!(normalization.features(), 1);
        let normalized = normalization.apply(&fields);
        assert_eq!((normalized[[0, 0, 0]], normalized[[3, 4, 5]]), (0.0, 1.0));
        assert!(normalization.check_compatible(&ArrayD::zeros(IxDyn(&[2, 7, 7]))).is_ok());
    }

    #[test]
    fn survives_a_json_round_trip() {
        let normalization = Normalization::fit(NormalizationKind::Standard, &training_table());
        let json = serde_json::to_string(&normalization).unwrap();
        assert!(json.contains("\"kind\":\"standard\""), "{json}");
        assert_eq!(serde_json::from_str::<Normalization>(&json).unwrap(), normalization);
        let min_max = serde_json::to_string(&NormalizationKind::MinMax).unwrap();
        assert_eq!(min_max, "\"min-max\"");
    }

    #[test]
    fn kinds_parse_from_their_names() {
        for kind in [NormalizationKind::MinMax, NormalizationKind::Standard, NormalizationKind::None] {
            assert_eq!(kind.to_string().parse::<NormalizationKind>(), Ok(kind));
        }
        let error = "zscore".parse::<NormalizationKind>().unwrap_err();
        assert_eq!(error.to_string(), "unknown normalization 'zscore'; choose min-max, standard or none");
    }

    #[test]
    fn incompatible_data_is_reported() {
        let normalization = Normalization::fit(NormalizationKind::MinMax, &ArrayD::zeros(IxDyn(&[10, 24])));
        let error = normalization.check_compatible(&ArrayD::zeros(IxDyn(&[10, 23]))).unwrap_err();
        assert_eq!(error, IncompatibleData::Columns { trained: 24, columns: 23 });
        assert_eq!(error.to_string(), "the model was trained on 24 columns, the data has 23");
        let error = normalization.check_compatible(&ArrayD::zeros(IxDyn(&[2, 24, 24]))).unwrap_err();
        assert!(error.to_string().contains("is not a table"), "{error}");
        assert!(normalization.check_compatible(&ArrayD::zeros(IxDyn(&[1, 24]))).is_ok());
    }

    #[test]
    #[should_panic(expected = "trained on 24 columns, the data has 23")]
    fn apply_refuses_incompatible_data() {
        let normalization = Normalization::fit(NormalizationKind::MinMax, &ArrayD::zeros(IxDyn(&[10, 24])));
        normalization.apply(&ArrayD::zeros(IxDyn(&[10, 23])));
    }

    #[test]
    fn fits_and_applies_a_jets_sized_table_quickly() {
        let table = ArrayD::from_shape_fn(IxDyn(&[119521, 24]), |i| (i[0] % 977) as f64 * (i[1] + 1) as f64);
        let started = std::time::Instant::now();
        let normalization = Normalization::fit(NormalizationKind::Standard, &table);
        let normalized = normalization.apply(&table);
        let elapsed = started.elapsed();
        println!("fit + apply of 119521 x 24 took {elapsed:?}");
        assert_eq!(normalized.shape(), table.shape());
    }
}
