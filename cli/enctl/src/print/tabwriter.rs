//! Go's `text/tabwriter` (left-aligned, space padding), the engine behind kubectl's tables and
//! `describe` blocks, so that enctl's columns line up exactly as kubectl's do.
//!
//! Input is text whose cells are terminated by `\t`; the last cell of a line is not part of a
//! column. Consecutive lines that have a cell in column *k* form a column block, and every cell
//! of the block is padded to the block's widest cell plus `padding` (at least `min_width`). A
//! line without a cell in column *k* ends the block — which is what makes kubectl's `describe`
//! align each group of `Key:\tvalue` lines on its own. Widths count characters (runes).
//!
//! Why not the `tabwriter` crate (a port of the same Go package): it measures a cell by its
//! display width (`unicode-width`: 2 for a CJK character, 0 for a combining mark), where Go
//! counts runes, so any non-ASCII text wider or narrower than one column (an annotation, an
//! env value, a command in `describe`) would line up differently from kubectl's; and it pads a
//! column to `max(minwidth, widest) + padding` where Go takes `max(minwidth, widest + padding)`.
//! kubectl's tables additionally remember widths across a watch's rows (`RememberWidths`),
//! which [`StreamColumns`] does and the crate cannot. The port is about 100 lines.

/// A tab-writer configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TabWriter {
    /// Minimal width of a column cell, padding included.
    pub min_width: usize,
    /// Spaces added to the widest cell of a column.
    pub padding: usize,
}

/// kubectl's table printer: `tabwriter.NewWriter(out, 6, 4, 3, ' ', 0)`.
pub const TABLE: TabWriter = TabWriter {
    min_width: 6,
    padding: 3,
};

/// kubectl's `describe` writer: `tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)`.
pub const DESCRIBE: TabWriter = TabWriter {
    min_width: 0,
    padding: 2,
};

impl TabWriter {
    /// Formats `text` (cells terminated by `\t`, lines by `\n`).
    pub fn format(&self, text: &str) -> String {
        let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
        let mut out = String::with_capacity(text.len() * 2);
        let mut widths = Vec::new();
        self.block(&lines, &mut widths, 0, lines.len(), &mut out);
        out
    }

    /// Formats the lines `line0..line1`, whose columns left of `widths.len()` are sized.
    fn block(
        &self,
        lines: &[Vec<&str>],
        widths: &mut Vec<usize>,
        mut line0: usize,
        line1: usize,
        out: &mut String,
    ) {
        let column = widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= lines[this].len() {
                this += 1;
                continue;
            }
            // A column block starts here: print what came before, size the block, recurse.
            write_lines(lines, widths, line0, this, out);
            line0 = this;
            let mut width = self.min_width;
            while this < line1 && column + 1 < lines[this].len() {
                width = width.max(cell_width(lines[this][column]) + self.padding);
                this += 1;
            }
            widths.push(width);
            self.block(lines, widths, line0, this, out);
            widths.pop();
            line0 = this;
        }
        write_lines(lines, widths, line0, line1, out);
    }
}

fn write_lines(
    lines: &[Vec<&str>],
    widths: &[usize],
    line0: usize,
    line1: usize,
    out: &mut String,
) {
    for (i, line) in lines.iter().enumerate().take(line1).skip(line0) {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if let Some(width) = widths.get(j).filter(|_| j + 1 < line.len()) {
                let pad = width.saturating_sub(cell_width(cell));
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        if i + 1 < lines.len() {
            out.push('\n');
        }
    }
}

fn cell_width(cell: &str) -> usize {
    cell.chars().count()
}

/// Pads a row of cells to known column widths, growing them when a cell is wider: the rows of
/// a watch arrive one at a time and cannot be laid out together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamColumns {
    widths: Vec<usize>,
}

impl StreamColumns {
    /// Columns sized by the rows printed so far (`rows` as tab-separated cells).
    pub fn from_rows<'a>(rows: impl IntoIterator<Item = &'a [String]>) -> Self {
        let mut columns = Self::default();
        for row in rows {
            columns.grow(row);
        }
        columns
    }

    fn grow(&mut self, row: &[String]) {
        let cells = row.len().saturating_sub(1);
        for (j, cell) in row.iter().take(cells).enumerate() {
            let width = (cell_width(cell) + TABLE.padding).max(TABLE.min_width);
            match self.widths.get_mut(j) {
                Some(w) => *w = (*w).max(width),
                None => self.widths.push(width),
            }
        }
    }

    /// The row padded to the columns (which grow to fit it), without a newline.
    pub fn line(&mut self, row: &[String]) -> String {
        self.grow(row);
        let mut out = String::new();
        for (j, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if j + 1 < row.len() {
                let width = self.widths.get(j).copied().unwrap_or(0);
                out.extend(std::iter::repeat_n(
                    ' ',
                    width.saturating_sub(cell_width(cell)),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_columns_are_widest_cell_plus_three_and_last_column_unpadded() {
        let text = "NAME\tREADY\tSTATUS\nagent-x7k2p\t1/1\tRunning\n";
        assert_eq!(
            TABLE.format(text),
            "NAME          READY   STATUS\nagent-x7k2p   1/1     Running\n"
        );
    }

    #[test]
    fn table_columns_have_a_minimum_width_of_six() {
        assert_eq!(TABLE.format("A\tB\nx\ty\n"), "A     B\nx     y\n");
    }

    #[test]
    fn describe_blocks_align_separately() {
        let text = "Name:\tx\nNamespace:\tdefault\nContainers:\n  c:\n    Image:\tbusybox\n    Port:\t<none>\n";
        assert_eq!(
            DESCRIBE.format(text),
            "Name:       x\nNamespace:  default\nContainers:\n  c:\n    Image:  busybox\n    Port:   <none>\n"
        );
    }

    #[test]
    fn continuation_lines_align_under_the_value() {
        let text = "Labels:\tapp=x\n\tteam=infra\nAnnotations:\t<none>\n";
        assert_eq!(
            DESCRIBE.format(text),
            "Labels:       app=x\n              team=infra\nAnnotations:  <none>\n"
        );
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        assert_eq!(TABLE.format("Ünï\tb\nx\ty"), "Ünï   b\nx     y");
    }

    #[test]
    fn wide_and_combining_characters_count_one_each_as_in_go() {
        // Go's text/tabwriter counts runes: 3 for "日本語" (6 display columns) and 2 for "e\u{301}".
        assert_eq!(TABLE.format("日本語\tb\nx\ty"), "日本語   b\nx     y");
        assert_eq!(
            DESCRIBE.format("e\u{301}:\tv\nkey:\tw"),
            "e\u{301}:   v\nkey:  w"
        );
    }

    #[test]
    fn stream_columns_keep_earlier_widths_and_grow() {
        let header: Vec<String> = ["NAME", "READY", "AGE"].map(String::from).to_vec();
        let row: Vec<String> = ["a", "1/1", "5s"].map(String::from).to_vec();
        let mut columns = StreamColumns::from_rows([header.as_slice(), row.as_slice()]);
        assert_eq!(columns.line(&row), format!("a{}1/1     5s", " ".repeat(6)));
        let long: Vec<String> = ["a-very-long-name", "0/1", "1s"].map(String::from).to_vec();
        assert_eq!(columns.line(&long), "a-very-long-name   0/1     1s");
        assert_eq!(columns.line(&row), format!("a{}1/1     5s", " ".repeat(18)));
    }
}
