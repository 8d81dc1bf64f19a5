//! `data.frames_per_sample`: a series of 2-D frames [N, height, width] read as stacks of
//! consecutive frames [N / T, T, height, width], for a conv3d model. The values stay in place
//! (row-major), only the shape changes.

use ndarray::{ArrayD, IxDyn};

/// Groups `frames` consecutive 2-D samples into one; 0 leaves the data as it is.
pub fn stack_frames(values: ArrayD<f64>, frames: usize) -> Result<ArrayD<f64>, String> {
    if frames == 0 {
        return Ok(values);
    }
    let shape = stacked_shape(values.shape(), frames)?;
    let values = values.as_standard_layout().into_owned();
    Ok(values.into_shape_with_order(IxDyn(&shape)).expect("the same number of values"))
}

/// [N, H, W] as [N / T, T, H, W] (T > 0), or why the data cannot be grouped so.
pub fn stacked_shape(shape: &[usize], frames: usize) -> Result<Vec<usize>, String> {
    let &[samples, height, width] = shape else {
        return Err(format!(
            "data.frames_per_sample = {frames} stacks 2-D frames, the data's samples have shape {:?}",
            shape.get(1..).unwrap_or(&[])
        ));
    };
    if samples % frames != 0 {
        return Err(format!(
            "data.frames_per_sample = {frames} does not divide the {samples} frames of the data \
             ({} stacks and {} frames left over)",
            samples / frames,
            samples % frames
        ));
    }
    Ok(vec![samples / frames, frames, height, width])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_frames_form_one_sample() {
        let values = ArrayD::from_shape_fn(IxDyn(&[6, 2, 3]), |i| (i[0] * 100 + i[1] * 10 + i[2]) as f64);
        let stacks = stack_frames(values, 3).unwrap();
        assert_eq!(stacks.shape(), &[2, 3, 2, 3]);
        assert_eq!(stacks[[1, 2, 1, 0]], 510.0);
    }

    #[test]
    fn frames_that_do_not_divide_are_refused() {
        let err = stacked_shape(&[60, 50, 50], 7).unwrap_err();
        assert!(err.contains("60 frames") && err.contains("frames_per_sample = 7"), "{err}");
        let err = stacked_shape(&[60, 24], 4).unwrap_err();
        assert!(err.contains("2-D frames") && err.contains("[24]"), "{err}");
    }
}
