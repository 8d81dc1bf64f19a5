//! Least-squares fits of one table column on the columns before it, for the residual plan.
//!
//! One pass over the chunk gathers the Gram matrix of every row's values, the decoder's
//! outputs, a constant and the user's relations; each column's fit then solves a small system
//! taken from it.

/// Sums of products of a chunk's per-row regressors [x_0..x_F, p_0..p_F, 1, r_0..r_R].
pub struct Gram {
    features: usize,
    dim: usize,
    /// Row-major dim x dim, symmetric.
    sums: Vec<f64>,
}

impl Gram {
    /// `regressors` holds the columns [x_0..x_F, p_0..p_F, 1, r_0..r_R] (`features` values and
    /// predictions, a constant, `extras` relations) of `rows` values each, one after another.
    pub fn of_columns(regressors: &[f64], rows: usize, features: usize, extras: usize) -> Gram {
        let dim = 2 * features + 1 + extras;
        let mut sums = vec![0.0; dim * dim];
        add_products(regressors, rows, rows, dim, &mut sums);
        mirror_upper_triangle(&mut sums, dim);
        Gram { features, dim, sums }
    }

    /// Weights predicting column `f` from the columns before it, the predictions for them, its
    /// own prediction, a constant and the given relations, in that order; None when the system
    /// is degenerate.
    pub fn fit(&self, f: usize, relations: &[usize]) -> Option<Vec<f64>> {
        let regressors: Vec<usize> = (0..f)
            .chain(self.features..self.features + f)
            .chain([self.features + f, 2 * self.features])
            .chain(relations.iter().map(|r| 2 * self.features + 1 + r))
            .collect();
        let a: Vec<f64> =
            regressors.iter().flat_map(|&r| regressors.iter().map(move |&c| self.sums[r * self.dim + c])).collect();
        let b: Vec<f64> = regressors.iter().map(|&r| self.sums[r * self.dim + f]).collect();
        solve_ridged(a, b)
    }
}

/// Rows of the regressor columns summed together: 49 columns of 512 rows fit in a core's L2.
const GRAM_BLOCK_ROWS: usize = 512;
/// Distance between the columns of a block of observations: a little more than a block, so
/// that the values of one observation do not all fall in the same cache set.
const BLOCK_STRIDE: usize = GRAM_BLOCK_ROWS + 8;

/// Adds the upper triangle of the Gram matrix of `dim` columns to `sums` (row-major dim x
/// dim): column `c` holds `rows` values from `columns[c * stride]`.
fn add_products(columns: &[f64], stride: usize, rows: usize, dim: usize, sums: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has just been found to support AVX2.
        return unsafe { add_products_avx2(columns, stride, rows, dim, sums) };
    }
    add_products_portable(columns, stride, rows, dim, sums);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn add_products_avx2(columns: &[f64], stride: usize, rows: usize, dim: usize, sums: &mut [f64]) {
    add_products_portable(columns, stride, rows, dim, sums);
}

#[inline(always)]
fn add_products_portable(columns: &[f64], stride: usize, rows: usize, dim: usize, sums: &mut [f64]) {
    let column = |c: usize, from: usize, to: usize| &columns[c * stride + from..c * stride + to];
    // Blocks of rows whose columns all stay in cache while every pair is summed.
    for from in (0..rows).step_by(GRAM_BLOCK_ROWS) {
        let to = (from + GRAM_BLOCK_ROWS).min(rows);
        for a in 0..dim {
            for b in a..dim {
                sums[a * dim + b] += dot(column(a, from, to), column(b, from, to));
            }
        }
    }
}

fn mirror_upper_triangle(sums: &mut [f64], dim: usize) {
    for a in 0..dim {
        for b in 0..a {
            sums[a * dim + b] = sums[b * dim + a];
        }
    }
}

/// The sum of products, in eight lanes that the compiler keeps in vector registers.
#[inline(always)]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    const LANES: usize = 8;
    let mut lanes = [0.0; LANES];
    let whole = a.len() / LANES * LANES;
    for (x, y) in a[..whole].chunks_exact(LANES).zip(b[..whole].chunks_exact(LANES)) {
        for l in 0..LANES {
            lanes[l] += x[l] * y[l];
        }
    }
    let tail: f64 = a[whole..].iter().zip(&b[whole..]).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f64>() + tail
}

/// Least squares accumulated one observation at a time. Observations are gathered column by
/// column into blocks and summed a block at a time, where the products vectorize.
pub struct NormalEquations {
    regressors: usize,
    /// `regressors` columns and the target's, `GRAM_BLOCK_ROWS` values each, `BLOCK_STRIDE` apart.
    block: Vec<f64>,
    in_block: usize,
    /// Row-major upper triangle of the sums of products of the regressors and the target (the
    /// last row and column).
    sums: Vec<f64>,
    observations: usize,
}

impl NormalEquations {
    pub fn new(regressors: usize) -> NormalEquations {
        let dim = regressors + 1;
        NormalEquations {
            regressors,
            block: vec![0.0; dim * BLOCK_STRIDE],
            in_block: 0,
            sums: vec![0.0; dim * dim],
            observations: 0,
        }
    }

    pub fn add(&mut self, regressors: &[f64], target: f64) {
        debug_assert_eq!(regressors.len(), self.regressors);
        let row = self.in_block;
        for (c, &r) in regressors.iter().enumerate() {
            self.block[c * BLOCK_STRIDE + row] = r;
        }
        self.block[self.regressors * BLOCK_STRIDE + row] = target;
        self.in_block += 1;
        if self.in_block == GRAM_BLOCK_ROWS {
            self.sum_block();
        }
    }

    fn sum_block(&mut self) {
        add_products(&self.block, BLOCK_STRIDE, self.in_block, self.regressors + 1, &mut self.sums);
        self.observations += self.in_block;
        self.in_block = 0;
    }

    /// The sums of every observation added.
    pub fn solved(mut self) -> LeastSquares {
        self.sum_block();
        LeastSquares { dim: self.regressors + 1, sums: self.sums, observations: self.observations }
    }
}

/// The sums of products of a set of observations, ready to solve for weights.
pub struct LeastSquares {
    dim: usize,
    sums: Vec<f64>,
    observations: usize,
}

impl LeastSquares {
    /// The weights of the first `dim` regressors alone, those at `noisy` taken as seen through
    /// independent noise of the given variance per observation, which adds to their expected
    /// squares (errors in variables: without it, weights fitted on clean values amplify the
    /// noise of the values they are applied to); None when the system is degenerate.
    pub fn solve_first(&self, dim: usize, noisy: &[usize], noise_variance: f64) -> Option<Vec<f64>> {
        let upper = |a: usize, b: usize| self.sums[a.min(b) * self.dim + a.max(b)];
        let mut products: Vec<f64> = (0..dim).flat_map(|a| (0..dim).map(move |b| upper(a, b))).collect();
        for &a in noisy.iter().filter(|&&a| a < dim) {
            products[a * dim + a] += self.observations as f64 * noise_variance;
        }
        let target = self.dim - 1;
        solve_ridged(products, (0..dim).map(|a| upper(a, target)).collect())
    }
}

/// Solves A w = b with a touch of ridge, which keeps collinear regressors (a column that is
/// the sum of others, a constant neighbour) solvable.
fn solve_ridged(mut a: Vec<f64>, b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    let ridge = 1e-10 * (0..n).map(|i| a[i * n + i]).sum::<f64>() / n as f64;
    (0..n).for_each(|i| a[i * n + i] += ridge);
    solve_positive_definite(a, b).filter(|w| w.iter().all(|w| w.is_finite()))
}

/// Solves A w = b for symmetric positive definite A (row-major n x n) by Cholesky.
fn solve_positive_definite(mut a: Vec<f64>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for j in 0..n {
        let diagonal = a[j * n + j] - (0..j).map(|k| a[j * n + k] * a[j * n + k]).sum::<f64>();
        if diagonal.is_nan() || diagonal <= 0.0 {
            return None;
        }
        let root = diagonal.sqrt();
        a[j * n + j] = root;
        for i in j + 1..n {
            let dot: f64 = (0..j).map(|k| a[i * n + k] * a[j * n + k]).sum();
            a[i * n + j] = (a[i * n + j] - dot) / root;
        }
    }
    for i in 0..n {
        b[i] = (b[i] - (0..i).map(|k| a[i * n + k] * b[k]).sum::<f64>()) / a[i * n + i];
    }
    for i in (0..n).rev() {
        b[i] = (b[i] - (i + 1..n).map(|k| a[k * n + i] * b[k]).sum::<f64>()) / a[i * n + i];
    }
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Gram {
        /// The Gram matrix of rows of `features` values, predictions and `extras` relations.
        fn of_rows(values: &[f64], predicted: &[f64], features: usize, relations: &[f64], extras: usize) -> Gram {
            let rows = values.len() / features;
            let column =
                |data: &[f64], width: usize, c: usize| (0..rows).map(move |r| data[r * width + c]).collect::<Vec<_>>();
            let mut regressors: Vec<f64> = (0..features).flat_map(|c| column(values, features, c)).collect();
            regressors.extend((0..features).flat_map(|c| column(predicted, features, c)));
            regressors.extend(std::iter::repeat_n(1.0, rows));
            regressors.extend((0..extras).flat_map(|c| column(relations, extras, c)));
            Gram::of_columns(&regressors, rows, features, extras)
        }
    }

    #[test]
    fn an_exact_linear_relation_is_recovered() {
        // Column 2 = 3 * column 0 - column 1 + 0.5; the predictions are noise-free copies.
        let rows: Vec<[f64; 3]> = (0..50)
            .map(|i| {
                let (a, b) = (f64::from(i).sin(), f64::from(i * i % 7));
                [a, b, 3.0 * a - b + 0.5]
            })
            .collect();
        let values: Vec<f64> = rows.iter().flatten().copied().collect();
        let predicted: Vec<f64> = values.iter().map(|v| v * 0.9).collect();
        let w = Gram::of_rows(&values, &predicted, 3, &[], 0).fit(2, &[]).unwrap();
        let predict =
            |r: &[f64; 3]| w[0] * r[0] + w[1] * r[1] + w[2] * r[0] * 0.9 + w[3] * r[1] * 0.9 + w[4] * r[2] * 0.9 + w[5];
        for r in &rows {
            assert!((predict(r) - r[2]).abs() < 1e-6, "{} vs {}", predict(r), r[2]);
        }
    }

    #[test]
    fn the_first_column_gets_an_affine_correction_of_its_prediction() {
        let values: Vec<f64> = (0..40).flat_map(|i| [f64::from(i), 1.0]).collect();
        let predicted: Vec<f64> = values.iter().map(|v| 2.0 * v + 1.0).collect();
        let w = Gram::of_rows(&values, &predicted, 2, &[], 0).fit(0, &[]).unwrap();
        assert_eq!(w.len(), 2);
        assert!((w[0] - 0.5).abs() < 1e-6 && (w[1] + 0.5).abs() < 1e-6, "{w:?}");
    }

    #[test]
    fn a_relation_takes_the_weight_it_deserves() {
        // Column 1 = 2 * relation; the relation alone explains it.
        let rows: Vec<(f64, f64)> = (0..60).map(|i| (f64::from(i).cos(), f64::from(i).sin())).collect();
        let values: Vec<f64> = rows.iter().flat_map(|&(a, r)| [a, 2.0 * r]).collect();
        let relation: Vec<f64> = rows.iter().map(|&(_, r)| r).collect();
        let w = Gram::of_rows(&values, &vec![0.0; values.len()], 2, &relation, 1).fit(1, &[0]).unwrap();
        assert_eq!(w.len(), 5);
        assert!((w[4] - 2.0).abs() < 1e-6 && w[0].abs() < 1e-6, "{w:?}");
    }

    #[test]
    fn noise_on_a_regressor_shrinks_its_weight_and_later_regressors_are_left_out() {
        let mut equations = NormalEquations::new(3);
        for i in 0..1000 {
            let x = if i % 2 == 0 { 1.0 } else { -1.0 };
            equations.add(&[x, 1.0, f64::from(i)], 2.0 * x);
        }
        let equations = equations.solved();
        let clean = equations.solve_first(2, &[], 0.0).unwrap();
        assert!((clean[0] - 2.0).abs() < 1e-9 && clean[1].abs() < 1e-9, "{clean:?}");
        // Noise as large as the signal: half the weight is the least-squares answer on noisy x.
        let noisy = equations.solve_first(2, &[0], 1.0).unwrap();
        assert!((noisy[0] - 1.0).abs() < 1e-9 && noisy[1].abs() < 1e-9, "{noisy:?}");
    }

    #[test]
    fn normal_equations_recover_a_plane() {
        let mut equations = NormalEquations::new(3);
        for i in 0..30 {
            let (x, y) = (f64::from(i % 7), f64::from(i / 7));
            equations.add(&[x, y, 1.0], 2.0 * x - 3.0 * y + 0.5);
        }
        let w = equations.solved().solve_first(3, &[], 0.0).unwrap();
        assert!((w[0] - 2.0).abs() < 1e-6 && (w[1] + 3.0).abs() < 1e-6 && (w[2] - 0.5).abs() < 1e-6, "{w:?}");
    }

    #[test]
    fn observations_over_many_blocks_sum_as_one_by_one() {
        let observations = 3 * GRAM_BLOCK_ROWS + 17;
        let row = |i: usize| {
            let x = i as f64;
            ([x.sin(), (0.3 * x).cos(), 1.0], 0.7 * x.sin() - 2.0 * (0.3 * x).cos() + 0.1 * (x * 1.7).sin())
        };
        let mut equations = NormalEquations::new(3);
        let (mut products, mut with_target) = ([[0.0; 3]; 3], [0.0; 3]);
        for i in 0..observations {
            let (r, t) = row(i);
            equations.add(&r, t);
            for a in 0..3 {
                with_target[a] += r[a] * t;
                for b in 0..3 {
                    products[a][b] += r[a] * r[b];
                }
            }
        }
        let solved = equations.solved();
        assert_eq!(solved.observations, observations);
        for a in 0..3 {
            for b in a..4 {
                let expected = if b == 3 { with_target[a] } else { products[a][b] };
                let sum = solved.sums[a * 4 + b];
                assert!((sum - expected).abs() <= 1e-9 * expected.abs().max(1.0), "({a}, {b}): {sum} vs {expected}");
            }
        }
    }

    #[test]
    fn solving_a_known_system() {
        let w = solve_positive_definite(vec![4.0, 2.0, 2.0, 3.0], vec![2.0, 1.0]).unwrap();
        assert!((w[0] - 0.5).abs() < 1e-12 && w[1].abs() < 1e-12);
        assert!(solve_positive_definite(vec![0.0], vec![1.0]).is_none());
    }
}
