//! Lead files: CSV (with a header naming the columns, or `PHONE[,ORDER_ID[,NAME]]` without one)
//! and NDJSON (one JSON object per line, the API's fields). Lines starting with `#` and blank
//! lines are skipped. Each record comes with its line number, so errors can point at it.

use std::io::BufRead;

use super::intake::LeadIn;

/// The format of a lead file, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
}

impl Format {
    pub fn of(path: &std::path::Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("ndjson" | "jsonl" | "json") => Format::Ndjson,
            _ => Format::Csv,
        }
    }
}

/// What is wrong with a line: `FIELD: what` when one field is.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("not a lead: {0}")]
    NotALead(serde_json::Error),
    #[error("sum_minor: `{0}` is not a whole number of minor units")]
    Sum(String),
    #[error("phone: the line has no phone number")]
    NoPhone,
}

/// A record of the file: its line, and the lead or what is wrong with it.
pub type Record = (u64, Result<LeadIn, LineError>);

/// Reads records from a lead file, a few at a time.
pub struct Reader<R> {
    input: R,
    format: Format,
    line: u64,
    /// CSV: the column of each field named in the header; `None` until a header is seen, and
    /// positional columns when the first record is not a header.
    columns: Option<Vec<Column>>,
    buf: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Phone,
    OrderId,
    Campaign,
    Name,
    Items,
    Sum,
    TimeZone,
    Other,
}

impl Column {
    fn of(name: &str) -> Column {
        match name.trim().to_ascii_lowercase().as_str() {
            "phone" | "phone_number" | "number" => Column::Phone,
            "order_id" | "order" => Column::OrderId,
            "campaign" => Column::Campaign,
            "name" => Column::Name,
            "items" => Column::Items,
            "sum_minor" | "sum" => Column::Sum,
            "time_zone" | "tz" => Column::TimeZone,
            _ => Column::Other,
        }
    }
}

impl<R: BufRead> Reader<R> {
    pub fn new(input: R, format: Format) -> Reader<R> {
        Reader {
            input,
            format,
            line: 0,
            columns: None,
            buf: String::new(),
            bytes: 0,
        }
    }

    /// Up to `max` records into `out`; false at the end of the file.
    pub fn read(&mut self, max: usize, out: &mut Vec<Record>) -> std::io::Result<bool> {
        while out.len() < max {
            self.buf.clear();
            let n = self.input.read_line(&mut self.buf).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("line {}: {e} (save the file as UTF-8)", self.line + 1),
                )
            })?;
            if n == 0 {
                return Ok(false);
            }
            self.bytes += n as u64;
            self.line += 1;
            let text = self.buf.trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            let record = match self.format {
                Format::Ndjson => serde_json::from_str::<LeadIn>(text).map_err(LineError::NotALead),
                Format::Csv => {
                    let fields = split_csv(text);
                    if self.columns.is_none() {
                        let header: Vec<Column> = fields.iter().map(|f| Column::of(f)).collect();
                        if header.contains(&Column::Phone) {
                            self.columns = Some(header);
                            continue;
                        }
                        self.columns = Some(vec![Column::Phone, Column::OrderId, Column::Name]);
                    }
                    csv_lead(self.columns.as_deref().unwrap_or_default(), &fields)
                }
            };
            out.push((self.line, record));
        }
        Ok(true)
    }
}

fn csv_lead(columns: &[Column], fields: &[String]) -> Result<LeadIn, LineError> {
    let mut lead = LeadIn::default();
    for (i, value) in fields.iter().enumerate() {
        let value = value.trim();
        let some = || (!value.is_empty()).then(|| value.to_string());
        match columns.get(i).copied().unwrap_or(Column::Other) {
            Column::Phone => lead.phone = value.to_string(),
            Column::OrderId => lead.order_id = some(),
            Column::Campaign => lead.campaign = some(),
            Column::Name => lead.name = some(),
            Column::Items => {
                lead.items = some().map(|v| v.split(';').map(|s| s.trim().to_string()).collect())
            }
            Column::Sum => {
                lead.sum_minor = match some() {
                    None => None,
                    Some(v) => Some(v.parse().map_err(|_| LineError::Sum(v))?),
                }
            }
            Column::TimeZone => lead.time_zone = some(),
            Column::Other => {}
        }
    }
    if lead.phone.is_empty() {
        return Err(LineError::NoPhone);
    }
    Ok(lead)
}

/// Splits a CSV line: commas, double quotes around fields with commas, `""` for a quote.
fn split_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str, format: Format) -> Vec<Record> {
        let mut r = Reader::new(text.as_bytes(), format);
        let mut out = Vec::new();
        loop {
            let mut batch = Vec::new();
            let more = r.read(2, &mut batch).unwrap();
            assert!(batch.len() <= 2);
            out.extend(batch);
            if !more {
                return out;
            }
        }
    }

    #[test]
    fn csv_with_a_header_and_quotes() {
        let out = all(
            "# shop export\nname,phone,order_id,sum\n\"Petrov, Ivan\",+79161234567,A-1,1500\n,,,\n",
            Format::Csv,
        );
        assert_eq!(out.len(), 2);
        let (line, lead) = &out[0];
        let lead = lead.as_ref().unwrap();
        assert_eq!(*line, 3);
        assert_eq!(lead.name.as_deref(), Some("Petrov, Ivan"));
        assert_eq!(lead.order_id.as_deref(), Some("A-1"));
        assert_eq!(lead.sum_minor, Some(1500));
        assert_eq!(out[1].0, 4);
        assert!(out[1].1.as_ref().unwrap_err().to_string().contains("phone"));
    }

    #[test]
    fn csv_without_a_header_is_phone_then_order() {
        let out = all("+79161234567,A-1\n89161234568\n", Format::Csv);
        assert_eq!(out[0].1.as_ref().unwrap().order_id.as_deref(), Some("A-1"));
        assert_eq!(out[1].1.as_ref().unwrap().phone, "89161234568");
    }

    #[test]
    fn a_line_that_is_not_utf8_is_named() {
        let mut r = Reader::new(&b"+79161234567\n\xff\xfe,1\n"[..], Format::Csv);
        let mut out = Vec::new();
        let e = r.read(10, &mut out).unwrap_err().to_string();
        assert!(e.starts_with("line 2:"), "{e}");
    }

    #[test]
    fn ndjson_errors_name_the_line() {
        let out = all(
            "{\"phone\":\"+79161234567\"}\n\n{\"phone\":1}\n{\"phon\":\"x\"}\n",
            Format::Ndjson,
        );
        assert!(out[0].1.is_ok());
        assert_eq!(out[1].0, 3);
        assert!(out[1].1.is_err());
        assert!(out[2].1.as_ref().unwrap_err().to_string().contains("phon"));
    }
}
