//! The askama templates of the generated files (in `templates/`), each bound to the view
//! it prints.

use crate::project::Report;
use crate::stream_view::StreamView;
use crate::view::ProjectView;
use askama::Template;

/// The kernels, copied verbatim into `firmware/balerc_layers.h`: they depend on no model.
pub const LAYERS_H: &str = include_str!("../templates/balerc_layers.h");

#[derive(Template)]
#[template(path = "defines.h", escape = "none")]
pub struct DefinesH<'a> {
    pub p: &'a ProjectView,
}

#[derive(Template)]
#[template(path = "parameters.h", escape = "none")]
pub struct ParametersH<'a> {
    pub p: &'a ProjectView,
}

#[derive(Template)]
#[template(path = "top.h", escape = "none")]
pub struct TopH<'a> {
    pub p: &'a ProjectView,
}

#[derive(Template)]
#[template(path = "top.cpp", escape = "none")]
pub struct TopCpp<'a> {
    pub p: &'a ProjectView,
}

#[derive(Template)]
#[template(path = "top_stream.cpp", escape = "none")]
pub struct StreamTopCpp<'a> {
    pub p: &'a ProjectView,
    pub s: &'a StreamView,
}

#[derive(Template)]
#[template(path = "test_bench_stream.cpp", escape = "none")]
pub struct StreamTestBench<'a> {
    pub top: &'a str,
}

#[derive(Template)]
#[template(path = "test_bench.cpp", escape = "none")]
pub struct TestBench<'a> {
    pub top: &'a str,
}

#[derive(Template)]
#[template(path = "build_prj.tcl", escape = "none")]
pub struct BuildTcl<'a> {
    pub top: &'a str,
    pub part: &'a str,
    pub clock_ns: f64,
}

#[derive(Template)]
#[template(path = "README.md", escape = "none")]
pub struct Readme<'a> {
    pub top: &'a str,
    pub model_name: &'a str,
    pub report: &'a Report,
}

/// The rendered text of a template, as a whole file.
pub fn render(template: &impl Template) -> String {
    // Rendering into a String cannot fail: every printed value is a plain Display.
    let mut text = template.render().expect("templates print only infallible Display values");
    // askama drops the template file's final newline; a text file ends with one.
    text.push('\n');
    text
}
