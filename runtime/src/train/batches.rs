//! Samples as flat f32 rows, shuffled into batches with a seeded generator.

use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Rows of equal length, stored contiguously.
#[derive(Debug, Clone)]
pub struct Rows {
    pub values: Vec<f32>,
    pub width: usize,
}

impl Rows {
    pub fn len(&self) -> usize {
        self.values.len() / self.width
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.width..(i + 1) * self.width]
    }

    pub fn gather(&self, indices: &[usize]) -> Vec<f32> {
        let mut out = Vec::with_capacity(indices.len() * self.width);
        for &i in indices {
            out.extend_from_slice(self.row(i));
        }
        out
    }

    /// Splits off the last `fraction` of the rows, after an optional seeded shuffle.
    pub fn split(self, fraction: f64, shuffle: bool, seed: u64) -> (Rows, Rows) {
        let mut order: Vec<usize> = (0..self.len()).collect();
        if shuffle {
            order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        }
        let held_out = ((self.len() as f64) * fraction).round() as usize;
        let (train, validation) = order.split_at(self.len() - held_out);
        (
            Rows { values: self.gather(train), width: self.width },
            Rows { values: self.gather(validation), width: self.width },
        )
    }
}

/// The batches of one epoch, as row indices.
pub struct Batches {
    order: Vec<usize>,
    size: usize,
}

impl Batches {
    pub fn new(rows: usize, size: usize, shuffle: Option<&mut rand::rngs::StdRng>) -> Batches {
        let mut order: Vec<usize> = (0..rows).collect();
        if let Some(rng) = shuffle {
            order.shuffle(rng);
        }
        Batches { order, size }
    }

    pub fn iter(&self) -> impl Iterator<Item = &[usize]> {
        self.order.chunks(self.size)
    }

    pub fn count(&self) -> usize {
        self.order.len().div_ceil(self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_every_row_once() {
        let rows = Rows { values: (0..20).map(|v| v as f32).collect(), width: 2 };
        let (train, validation) = rows.split(0.3, true, 7);
        assert_eq!((train.len(), validation.len()), (7, 3));
        let mut firsts: Vec<f32> =
            (0..7).map(|i| train.row(i)[0]).chain((0..3).map(|i| validation.row(i)[0])).collect();
        firsts.sort_by(f32::total_cmp);
        assert_eq!(firsts, (0..10).map(|v| (2 * v) as f32).collect::<Vec<_>>());
    }

    #[test]
    fn batches_cover_the_rows_in_a_seeded_order() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let a: Vec<Vec<usize>> = Batches::new(10, 4, Some(&mut rng)).iter().map(<[usize]>::to_vec).collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let b: Vec<Vec<usize>> = Batches::new(10, 4, Some(&mut rng)).iter().map(<[usize]>::to_vec).collect();
        assert_eq!(a, b);
        assert_eq!(a.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4, 2]);
        let mut all: Vec<usize> = a.concat();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }
}
