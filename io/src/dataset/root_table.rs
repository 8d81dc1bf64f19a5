//! ROOT files: a TTree of flat numeric branches (booleans, integers of 8 to 64 bits, single
//! and double floats), read and written through oxyroot, each branch in its own type.
//!
//! oxyroot's branch iterators borrow their tree and cannot cross threads, and its reader
//! panics on what it cannot read. So a file is read, and written, on a thread of its own that
//! trades rows for requests over channels, a chunk at a time (memory holds a chunk and a
//! basket per branch), and a panic there becomes an error naming the file's tree.

use super::formats::{Opened, SampleSink, SampleSource, SourceError};
use super::{select_columns, FileFormat, Layout, StoredDtype};
use oxyroot::{Branch, Named, RootFile, WriterTree};
use std::any::Any;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::{self, JoinHandle};

/// The tree balerc writes when the output names none.
pub(super) const DEFAULT_TREE: &str = "events";

/// The classes of the keys that hold a TTree (an ntuple is a TTree of floats or doubles).
const TREE_CLASSES: [&str; 3] = ["TTree", "TNtuple", "TNtupleD"];

/// ROOT's compression algorithm number for ZSTD, which oxyroot cannot inflate.
const ZSTD: i32 = 5;

/// A branch handed out: its name and stored type.
#[derive(Clone)]
struct Column {
    name: String,
    dtype: StoredDtype,
}

/// Opens `tree` in the file (or its only tree): the layout of its branches (the `wanted`
/// ones alone, in that order, where named) and its rows to read.
pub(super) fn open(path: &Path, tree: Option<&str>, wanted: Option<&[String]>) -> Result<Opened, String> {
    let TreeSurvey { tree, entries, branches } = guarded(|| survey(path, tree))?;
    let all: Vec<String> = branches.iter().map(|(name, _)| name.clone()).collect();
    let selected = match wanted {
        Some(wanted) => select_columns(&all, all.len(), wanted)?,
        None => (0..all.len()).collect(),
    };
    let columns = selected
        .iter()
        .map(|&b| {
            let (name, type_name) = &branches[b];
            dtype_of(type_name).map(|dtype| Column { name: name.clone(), dtype }).map_err(|why| {
                let others = if wanted.is_none() { "; select the others with --columns" } else { "" };
                format!("branch '{name}' of tree '{tree}' {why}{others}")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if columns.is_empty() {
        return Err(format!("tree '{tree}' has no branches"));
    }
    let (dtype, column_dtypes) = StoredDtype::of_columns(columns.iter().map(|c| c.dtype).collect());
    let layout = Layout {
        shape: vec![entries, columns.len()],
        names: columns.iter().map(|c| c.name.clone()).collect(),
        dtype,
        format: FileFormat::Root,
        column_dtypes,
    };
    Ok(Opened::new(layout, RootRows::start(path.to_path_buf(), tree, columns), true))
}

/// The tree to read (the one named, or the file's only one), its entries, and each branch's
/// name and type as oxyroot spells it.
struct TreeSurvey {
    tree: String,
    entries: usize,
    branches: Vec<(String, String)>,
}

fn survey(path: &Path, tree: Option<&str>) -> Result<TreeSurvey, String> {
    let mut file = RootFile::open(path).map_err(|e| format!("is not a readable ROOT file ({})", root_error(e)))?;
    if file.compression() / 100 == ZSTD {
        return Err("is compressed with ZSTD, which balerc cannot read; write it with ZLIB, LZ4 or LZMA".into());
    }
    let mut trees: Vec<String> = vec![];
    let mut others: Vec<String> = vec![];
    if let Some(key) = file.keys().iter().find(|key| key.class_name() == "ROOT::RNTuple") {
        let name = key.name();
        if tree.is_none_or(|wanted| wanted == name) {
            return Err(format!(
                "holds '{name}' as an RNTuple, which balerc cannot read yet; write a TTree (uproot: file.mktree)"
            ));
        }
    }
    for key in file.keys() {
        let entry = if TREE_CLASSES.contains(&key.class_name()) { &mut trees } else { &mut others };
        if !entry.contains(&key.name().to_string()) {
            entry.push(key.name().to_string());
        }
    }
    let name = match (tree, trees.as_slice()) {
        (Some(name), _) if trees.iter().any(|t| t == name) => name.to_string(),
        (Some(name), []) => return Err(format!("has no tree '{name}'; it holds no TTree ({})", listing(&others))),
        (Some(name), _) => return Err(format!("has no tree '{name}'; its trees are {}", trees.join(", "))),
        (None, [only]) => only.clone(),
        (None, []) => return Err(format!("holds no TTree ({})", listing(&others))),
        (None, _) => {
            return Err(format!("holds several trees ({}): name one as FILE.root:TREE", trees.join(", ")));
        }
    };
    let reader = file.get_tree(&name).map_err(|e| format!("tree '{name}' cannot be read ({})", root_error(e)))?;
    let entries =
        usize::try_from(reader.entries()).map_err(|_| format!("tree '{name}' counts its entries as negative"))?;
    let branches = reader
        .branches()
        .map(|branch| {
            let type_name =
                catch_unwind(AssertUnwindSafe(|| type_name(branch))).unwrap_or_else(|_| "an unknown type".into());
            (branch.name().to_string(), type_name)
        })
        .collect();
    Ok(TreeSurvey { tree: name, entries, branches })
}

/// A branch's C++ type: a leaf's type (`float`, `int32_t[]` for a jagged one) or a class.
fn type_name(branch: &Branch) -> String {
    match branch.branches().next() {
        Some(_) => format!("an object of class {} split into sub-branches", branch.class()),
        None => branch.item_type_name(),
    }
}

fn listing(keys: &[String]) -> String {
    match keys {
        [] => "it is empty".into(),
        _ => format!("its objects are {}", keys.join(", ")),
    }
}

/// The stored type of a flat numeric branch; why any other cannot be read.
fn dtype_of(type_name: &str) -> Result<StoredDtype, String> {
    use StoredDtype::*;
    Ok(match type_name {
        "float" => F32,
        "double" => F64,
        "int8_t" => I8,
        "int16_t" => I16,
        "int32_t" => I32,
        "int64_t" => I64,
        "uint8_t" => U8,
        "uint16_t" => U16,
        "uint32_t" => U32,
        "uint64_t" => U64,
        "bool" => Bool,
        jagged if jagged.ends_with("[]") => {
            return Err(format!("is jagged ({jagged}, a list per entry); balerc reads flat numeric branches"));
        }
        array if array.ends_with(']') => {
            return Err(format!("holds an array per entry ({array}); balerc reads flat numeric branches"));
        }
        other => return Err(format!("holds {other}; balerc reads flat numeric branches")),
    })
}

/// A TTree's rows, read on a thread of their own and handed out in order a chunk at a time.
struct RootRows {
    requests: Option<Sender<usize>>,
    rows: Receiver<Result<Vec<f64>, String>>,
    reader: Option<JoinHandle<()>>,
}

impl RootRows {
    fn start(path: PathBuf, tree: String, columns: Vec<Column>) -> RootRows {
        let (requests, asked) = mpsc::channel::<usize>();
        let (answers, rows) = mpsc::sync_channel(1);
        let reader = thread::spawn(move || {
            let answers_on_panic = answers.clone();
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| serve(&path, &tree, &columns, asked, answers))) {
                let _ = answers_on_panic.send(Err(format!("tree '{tree}' cannot be read: {}", panic_text(&panic))));
            }
        });
        RootRows { requests: Some(requests), rows, reader: Some(reader) }
    }
}

impl SampleSource for RootRows {
    /// The next `count` rows, row after row.
    fn read(&mut self, _first: usize, count: usize) -> Result<Vec<f64>, SourceError> {
        let stopped = || "the ROOT reader stopped".to_string();
        self.requests.as_ref().ok_or_else(stopped)?.send(count).map_err(|_| stopped())?;
        Ok(self.rows.recv().map_err(|_| stopped())??)
    }
}

impl Drop for RootRows {
    fn drop(&mut self) {
        // Without requests the reader's loop ends; it may be inflating a basket still.
        self.requests.take();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// Answers each request for rows with that many rows of every column, until no more come.
fn serve(
    path: &Path,
    tree: &str,
    columns: &[Column],
    requests: Receiver<usize>,
    answers: SyncSender<Result<Vec<f64>, String>>,
) {
    let opened = RootFile::open(path).map_err(root_error).and_then(|mut file| file.get_tree(tree).map_err(root_error));
    let reader = match opened {
        Ok(reader) => reader,
        Err(e) => {
            let _ = answers.send(Err(format!("tree '{tree}' cannot be read ({e})")));
            return;
        }
    };
    let iterators: Result<Vec<_>, String> = columns.iter().map(|column| values_of(&reader, column)).collect();
    let mut iterators = match iterators {
        Ok(iterators) => iterators,
        Err(message) => {
            let _ = answers.send(Err(message));
            return;
        }
    };
    let mut done = 0;
    for count in requests {
        let mut rows = vec![0.0; count * columns.len()];
        for (c, values) in iterators.iter_mut().enumerate() {
            for (row, slot) in rows.iter_mut().skip(c).step_by(columns.len()).enumerate() {
                match values.next() {
                    Some(value) => *slot = value,
                    None => {
                        let name = &columns[c].name;
                        let _ = answers.send(Err(format!("branch '{name}' ends after {} entries", done + row)));
                        return;
                    }
                }
            }
        }
        done += count;
        if answers.send(Ok(rows)).is_err() {
            return;
        }
    }
}

/// A branch's values as f64, read as its own type.
fn values_of<'a>(tree: &'a oxyroot::ReaderTree, column: &Column) -> Result<Box<dyn Iterator<Item = f64> + 'a>, String> {
    let name = &column.name;
    let branch = tree.branch(name).ok_or_else(|| format!("branch '{name}' disappeared"))?;
    let fail = |e| format!("branch '{name}' cannot be read ({})", root_error(e));
    use StoredDtype::*;
    Ok(match column.dtype {
        F32 => Box::new(branch.as_iter::<f32>().map_err(fail)?.map(f64::from)),
        F64 => Box::new(branch.as_iter::<f64>().map_err(fail)?),
        I8 => Box::new(branch.as_iter::<i8>().map_err(fail)?.map(f64::from)),
        I16 => Box::new(branch.as_iter::<i16>().map_err(fail)?.map(f64::from)),
        I32 => Box::new(branch.as_iter::<i32>().map_err(fail)?.map(f64::from)),
        I64 => Box::new(branch.as_iter::<i64>().map_err(fail)?.map(|v| v as f64)),
        U8 => Box::new(branch.as_iter::<u8>().map_err(fail)?.map(f64::from)),
        U16 => Box::new(branch.as_iter::<u16>().map_err(fail)?.map(f64::from)),
        U32 => Box::new(branch.as_iter::<u32>().map_err(fail)?.map(f64::from)),
        U64 => Box::new(branch.as_iter::<u64>().map_err(fail)?.map(|v| v as f64)),
        Bool => Box::new(branch.as_iter::<bool>().map_err(fail)?.map(|b| f64::from(u8::from(b)))),
        F16 => unreachable!("no ROOT branch is read as half floats"),
    })
}

/// Writes a table as a TTree, a branch per column in the column's type (half floats as
/// floats, which ROOT has no plain branch for), one chunk of rows after another.
pub(super) struct RootSink {
    chunks: Option<SyncSender<Vec<f64>>>,
    writer: Option<JoinHandle<Result<(), String>>>,
}

impl RootSink {
    /// Starts a file at `path` with tree `tree` (`events` when none is named) whose branches
    /// have the layout's names (`c0`, `c1`... where it has none) and types.
    pub(super) fn start(path: &Path, tree: Option<&str>, layout: &Layout) -> RootSink {
        let width = layout.sample_len();
        let columns: Vec<Column> = (0..width)
            .map(|c| Column {
                name: layout.names.get(c).cloned().unwrap_or_else(|| format!("c{c}")),
                dtype: layout.column_dtype(c),
            })
            .collect();
        let (path, tree) = (path.to_path_buf(), tree.unwrap_or(DEFAULT_TREE).to_string());
        let (chunks, arriving) = mpsc::sync_channel(1);
        let writer = thread::spawn(move || {
            catch_unwind(AssertUnwindSafe(|| write_tree(&path, &tree, &columns, arriving)))
                .unwrap_or_else(|panic| Err(panic_text(&panic)))
        });
        RootSink { chunks: Some(chunks), writer: Some(writer) }
    }

    fn stop(&mut self) -> Result<(), String> {
        self.chunks.take();
        match self.writer.take() {
            Some(writer) => writer.join().unwrap_or_else(|panic| Err(panic_text(&panic))),
            None => Err("the ROOT writer stopped".into()),
        }
    }
}

impl SampleSink for RootSink {
    fn write(&mut self, _first: usize, values: &ndarray::ArrayD<f64>) -> std::io::Result<()> {
        let rows = values.iter().copied().collect();
        match self.chunks.as_ref().map(|chunks| chunks.send(rows)) {
            Some(Ok(())) => Ok(()),
            // The writer gave up: its reason comes with the join.
            _ => Err(std::io::Error::other(self.stop().err().unwrap_or_else(|| "the ROOT writer stopped".into()))),
        }
    }

    /// Writes the last baskets and the tree; the file is complete.
    fn finish(mut self: Box<Self>) -> std::io::Result<()> {
        self.stop().map_err(std::io::Error::other)
    }
}

impl Drop for RootSink {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// The rows as they arrive, shared by the branches' iterators. oxyroot asks each branch in
/// turn for the same entry, so the first branch to ask for an entry past the rows held is
/// the first branch, when every branch has had the rows before.
struct Arrivals {
    chunks: Receiver<Vec<f64>>,
    rows: Vec<f64>,
    first_row: usize,
    width: usize,
}

impl Arrivals {
    fn value(&mut self, row: usize, column: usize) -> Option<f64> {
        while row >= self.first_row + self.rows.len() / self.width {
            let next = self.chunks.recv().ok()?;
            self.first_row += self.rows.len() / self.width;
            self.rows = next;
        }
        self.rows.get((row - self.first_row) * self.width + column).copied()
    }
}

fn write_tree(path: &Path, tree: &str, columns: &[Column], chunks: Receiver<Vec<f64>>) -> Result<(), String> {
    let mut file = RootFile::create(path).map_err(|e| format!("cannot be created ({})", root_error(e)))?;
    let mut writer = WriterTree::new(tree);
    let arrivals = Rc::new(RefCell::new(Arrivals { chunks, rows: vec![], first_row: 0, width: columns.len() }));
    for (c, column) in columns.iter().enumerate() {
        let arrivals = Rc::clone(&arrivals);
        let dtype = column.dtype;
        let values = (0..).map_while(move |row| arrivals.borrow_mut().value(row, c)).map(move |v| dtype.stored(v));
        add_branch(&mut writer, &column.name, dtype, values.fuse());
    }
    writer.write(&mut file).map_err(|e| format!("tree '{tree}' cannot be written ({})", root_error(e)))?;
    file.close().map_err(|e| format!("cannot be completed ({})", root_error(e)))
}

fn add_branch(tree: &mut WriterTree, name: &str, dtype: StoredDtype, values: impl Iterator<Item = f64> + 'static) {
    use StoredDtype::*;
    match dtype {
        F16 | F32 => tree.new_branch(name, values.map(|v| v as f32)),
        F64 => tree.new_branch(name, values),
        I8 => tree.new_branch(name, values.map(|v| v as i8)),
        I16 => tree.new_branch(name, values.map(|v| v as i16)),
        I32 => tree.new_branch(name, values.map(|v| v as i32)),
        I64 => tree.new_branch(name, values.map(|v| v as i64)),
        U8 => tree.new_branch(name, values.map(|v| v as u8)),
        U16 => tree.new_branch(name, values.map(|v| v as u16)),
        U32 => tree.new_branch(name, values.map(|v| v as u32)),
        U64 => tree.new_branch(name, values.map(|v| v as u64)),
        Bool => tree.new_branch(name, values.map(|v| v != 0.0)),
    }
}

/// Runs `read` and turns a panic inside oxyroot into an error.
fn guarded<T>(read: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(read)).unwrap_or_else(|panic| Err(format!("cannot be read: {}", panic_text(&panic))))
}

fn panic_text(panic: &Box<dyn Any + Send>) -> String {
    let text = panic.downcast_ref::<String>().map(String::as_str).or_else(|| panic.downcast_ref::<&str>().copied());
    match text {
        Some(text) if !text.is_empty() => format!("the ROOT library failed ({text})"),
        _ => "the ROOT library failed".into(),
    }
}

/// oxyroot's errors print as their debug form behind "Root Error: ".
fn root_error(error: impl std::fmt::Display) -> String {
    let text = error.to_string();
    text.strip_prefix("Root Error: ").unwrap_or(&text).to_string()
}
