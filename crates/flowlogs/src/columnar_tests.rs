//! Parquet tests: AWS's column names and types, NULL for missing values, exact round trips of
//! AWS's documented records and of custom formats, and refusals of foreign files.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field as ArrowField, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

use crate::*;

/// Records from AWS's VPC Flow Logs documentation ("Flow log record examples").
const AWS_EXAMPLES: [&str; 6] = [
    "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
    "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK",
    "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
    "2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA",
    "2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK",
    "2 123456789010 eni-1235b8ca123456789 203.0.113.12 172.31.16.139 0 0 1 4 336 1432917027 1432917142 ACCEPT OK",
];

fn batch(format: &FlowLogFormat, lines: &[&str]) -> Batch {
    Batch {
        flow_log_id: "fl-0123456789abcdef0".into(),
        account_id: "123456789010".into(),
        region: "us-east-1".into(),
        destination: Destination::File { dir: "dev".into() },
        options: DestinationOptions::parse("parquet", false, false).unwrap(),
        format: format.clone(),
        start: 1_418_530_010,
        end: 1_418_530_070,
        records: lines
            .iter()
            .map(|l| FlowRecord::parse(l, format).unwrap())
            .collect(),
    }
}

fn read_columns(bytes: &[u8]) -> (Arc<Schema>, Vec<RecordBatch>) {
    let b = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes)).unwrap();
    let schema = b.schema().clone();
    (schema, b.build().unwrap().map(Result::unwrap).collect())
}

#[test]
fn aws_examples_round_trip_exactly_with_nulls_for_dashes() {
    let f = FlowLogFormat::default_v2();
    let b = batch(&f, &AWS_EXAMPLES);
    let bytes = encode_parquet(&b).unwrap();
    assert_eq!(&bytes[..4], b"PAR1");
    assert_eq!(decode_parquet(&bytes).unwrap(), b.records);
    let (format, records) = decode_parquet_with_format(&bytes).unwrap();
    assert_eq!(format, f);
    for (r, line) in records.iter().zip(AWS_EXAMPLES) {
        assert_eq!(r.to_line(&format), line);
    }

    let (schema, batches) = read_columns(&bytes);
    let names: Vec<&str> = schema.fields().iter().map(|c| c.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "version",
            "account_id",
            "interface_id",
            "srcaddr",
            "dstaddr",
            "srcport",
            "dstport",
            "protocol",
            "packets",
            "bytes",
            "start",
            "end",
            "action",
            "log_status"
        ]
    );
    let rb = &batches[0];
    // The NODATA record's missing values are NULL, not "-".
    let src = rb.column(3).as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(src.value(0), "172.31.16.139");
    assert!(src.is_null(2) && src.is_null(3));
    assert_eq!(src.null_count(), 2);
    let packets = rb.column(8).as_any().downcast_ref::<Int64Array>().unwrap();
    assert_eq!(packets.value(0), 20);
    assert!(packets.is_null(2));
    let dstport = rb.column(6).as_any().downcast_ref::<Int32Array>().unwrap();
    assert_eq!(dstport.value(1), 3389);
    let status = rb
        .column(13)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(status.value(3), "SKIPDATA");
}

#[test]
fn every_field_has_aws_column_name_and_type() {
    let all = FlowLogFormat::parse(
        &Field::ALL
            .iter()
            .map(|f| format!("${{{}}}", f.name()))
            .collect::<Vec<_>>()
            .join(" "),
    )
    .unwrap();
    let schema = parquet_schema(&all);
    let got: Vec<(String, DataType)> = schema
        .fields()
        .iter()
        .map(|c| (c.name().clone(), c.data_type().clone()))
        .collect();
    use DataType::{Int32 as I32, Int64 as I64, Utf8 as S};
    let want = [
        ("version", I32),
        ("account_id", S),
        ("interface_id", S),
        ("srcaddr", S),
        ("dstaddr", S),
        ("srcport", I32),
        ("dstport", I32),
        ("protocol", I32),
        ("packets", I64),
        ("bytes", I64),
        ("start", I64),
        ("end", I64),
        ("action", S),
        ("log_status", S),
        ("vpc_id", S),
        ("subnet_id", S),
        ("instance_id", S),
        ("tcp_flags", I32),
        ("type", S),
        ("pkt_srcaddr", S),
        ("pkt_dstaddr", S),
        ("region", S),
        ("az_id", S),
        ("sublocation_type", S),
        ("sublocation_id", S),
        ("pkt_src_aws_service", S),
        ("pkt_dst_aws_service", S),
        ("flow_direction", S),
        ("traffic_path", I32),
        ("reject_reason", S),
    ]
    .map(|(n, t)| (n.to_owned(), t));
    assert_eq!(got, want);
    assert!(schema.fields().iter().all(|c| c.is_nullable()));

    // A record with every field set round-trips in the all-fields format, and so does an
    // empty one (every column NULL).
    let full = FlowRecord {
        version: Some(8),
        account_id: Some("123456789010".into()),
        interface_id: Some("eni-1235b8ca123456789".into()),
        srcaddr: Some("10.0.0.1".parse().unwrap()),
        dstaddr: Some("2001:db8::1".parse().unwrap()),
        srcport: Some(65535),
        dstport: Some(443),
        protocol: Some(255),
        packets: Some(u64::from(u32::MAX) + 7),
        bytes: Some(i64::MAX as u64),
        start: Some(1_566_848_875),
        end: Some(1_566_848_933),
        action: Some(Action::Reject),
        log_status: Some(LogStatus::Ok),
        vpc_id: Some("vpc-abcdefab012345678".into()),
        subnet_id: Some("subnet-aaaaaaaa012345678".into()),
        instance_id: Some("i-01234567890123456".into()),
        tcp_flags: Some(19),
        traffic_type: Some("IPv6".into()),
        pkt_srcaddr: Some("52.213.180.42".parse().unwrap()),
        pkt_dstaddr: Some("::ffff:10.0.0.62".parse().unwrap()),
        region: Some("us-east-1".into()),
        az_id: Some("use1-az4".into()),
        sublocation_type: Some("outpost".into()),
        sublocation_id: Some("op-0123456789abcdef0".into()),
        pkt_src_aws_service: Some("S3".into()),
        pkt_dst_aws_service: Some("AMAZON".into()),
        flow_direction: Some("egress".into()),
        traffic_path: Some(8),
        reject_reason: Some("BPA".into()),
    };
    let mut b = batch(&all, &[]);
    b.records = vec![full, FlowRecord::default()];
    assert_eq!(
        decode_parquet(&encode_parquet(&b).unwrap()).unwrap(),
        b.records
    );
}

#[test]
fn custom_formats_keep_their_column_order_and_match_the_text_decoder() {
    // AWS's documented custom-format example (version 3 fields with tcp-flags).
    let f = FlowLogFormat::parse("${version} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${account-id} ${type} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${pkt-srcaddr} ${pkt-dstaddr} ${protocol} ${bytes} ${packets} ${start} ${end} ${action} ${tcp-flags} ${log-status}").unwrap();
    let lines = [
        "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789012 IPv4 52.213.180.42 10.0.0.62 43416 5001 52.213.180.42 10.0.0.62 6 568 8 1566848875 1566848933 ACCEPT 2 OK",
        "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789012 IPv4 10.0.0.62 52.213.180.42 5001 43416 10.0.0.62 52.213.180.42 6 376 7 1566848875 1566848933 ACCEPT 18 OK",
        "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 - eni-1235b8ca123456789 123456789012 - - - - - - - - - - 1566848875 1566848933 - - NODATA",
    ];
    let b = batch(&f, &lines);
    let bytes = encode_parquet(&b).unwrap();
    let (format, records) = decode_parquet_with_format(&bytes).unwrap();
    assert_eq!(format, f);
    assert_eq!(records, b.records);
    let (_, text) = decode_text(&encode_text(&b)).unwrap();
    assert_eq!(records, text, "Parquet and text read back the same records");
    let (schema, _) = read_columns(&bytes);
    assert_eq!(schema.field(1).name(), "vpc_id");
    assert_eq!(schema.field(6).name(), "type");
    assert_eq!(schema.field(19).name(), "tcp_flags");
    assert_eq!(schema.field(19).data_type(), &DataType::Int32);
}

#[test]
fn many_rows_span_row_groups_in_order() {
    let f = FlowLogFormat::parse("${srcport} ${bytes} ${srcaddr}").unwrap();
    let mut b = batch(&f, &[]);
    let n = ROW_GROUP_ROWS + 3;
    b.records = (0..n)
        .map(|i| FlowRecord {
            srcport: Some((i % 65536) as u16),
            bytes: (i % 7 != 0).then_some(i as u64),
            srcaddr: Some(std::net::IpAddr::from([
                10,
                (i >> 16) as u8,
                (i >> 8) as u8,
                i as u8,
            ])),
            ..FlowRecord::default()
        })
        .collect();
    let bytes = encode_parquet(&b).unwrap();
    let meta = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes.clone()))
        .unwrap()
        .metadata()
        .clone();
    assert_eq!(meta.num_row_groups(), 2);
    assert_eq!(decode_parquet(&bytes).unwrap(), b.records);
}

fn foreign(columns: Vec<(&str, ArrayRef)>) -> Vec<u8> {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, a)| ArrowField::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let rb =
        RecordBatch::try_new(schema.clone(), columns.into_iter().map(|c| c.1).collect()).unwrap();
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, schema, None).unwrap();
    w.write(&rb).unwrap();
    w.close().unwrap();
    out
}

#[test]
fn foreign_and_damaged_files_are_refused() {
    assert!(matches!(
        decode_parquet(b"PAR1 not really"),
        Err(ParquetError::Parquet(_))
    ));
    let good = encode_parquet(&batch(&FlowLogFormat::default_v2(), &AWS_EXAMPLES)).unwrap();
    assert!(
        decode_parquet(&good[..good.len() - 10]).is_err(),
        "truncated"
    );

    let ints = |v: Vec<i32>| -> ArrayRef { Arc::new(Int32Array::from(v)) };
    let strs = |v: Vec<&str>| -> ArrayRef { Arc::new(StringArray::from(v)) };
    let unknown = foreign(vec![("srcport", ints(vec![1])), ("nope", ints(vec![1]))]);
    assert!(matches!(
        decode_parquet(&unknown),
        Err(ParquetError::UnknownColumn(c)) if c == "nope"
    ));
    let twice = foreign(vec![("srcport", ints(vec![1])), ("srcport", ints(vec![2]))]);
    assert!(matches!(
        decode_parquet(&twice),
        Err(ParquetError::UnknownColumn(_))
    ));
    let typed = foreign(vec![("srcport", strs(vec!["22"]))]);
    assert!(matches!(
        decode_parquet(&typed),
        Err(ParquetError::ColumnType { .. })
    ));
    let port = foreign(vec![("dstport", ints(vec![22, 70_000]))]);
    assert!(matches!(
        decode_parquet(&port),
        Err(ParquetError::Value {
            row: 1,
            column: "dstport",
            ..
        })
    ));
    let addr = foreign(vec![("srcaddr", strs(vec!["10.0.0.1", "10.0.0.300"]))]);
    assert!(matches!(
        decode_parquet(&addr),
        Err(ParquetError::Value {
            row: 1,
            column: "srcaddr",
            ..
        })
    ));
    let action = foreign(vec![("action", strs(vec!["accept"]))]);
    assert!(decode_parquet(&action).is_err());
    // A foreign file with known columns only reads fine.
    let ok = foreign(vec![
        ("dstport", ints(vec![443])),
        ("action", strs(vec!["REJECT"])),
    ]);
    let r = decode_parquet(&ok).unwrap();
    assert_eq!(r[0].dstport, Some(443));
    assert_eq!(r[0].action, Some(Action::Reject));
}
