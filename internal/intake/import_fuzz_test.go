package intake

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/producer"
)

// FuzzImport holds the two promises of the intake path for any bytes, run
// through Check and Run as the CLI and the API run them, on an embedded
// Redis:
//
//  1. every refund enqueued comes from a row of the input that, read again
//     on its own under the file's header, is a valid refund with the same
//     request_id; it is a full refund only if that row says full; and
//     when encoding/csv reads the input cleanly, the refunds are exactly
//     the valid rows an independent reading finds;
//  2. importing the same content again after an invisible change (CRLF,
//     a BOM, quoting every cell, another column or key order, spaces
//     around values) enqueues nothing new and keeps the batch id.
func FuzzImport(f *testing.F) {
	for _, s := range csvSeeds {
		f.Add([]byte(s), false)
	}
	for _, s := range []string{
		`{"order_id":"A1","amount":"full"}` + "\n" + `{"order_id":"A2","amount":""}` + "\n" + `{"order_id":"A1","amount":"full"}`,
		`{"idempotency_key":"k","order_id":"A1","amount":1}` + "\n" + `{"idempotency_key":"k","order_id":"A1","amount":2}`,
		`{"order_id":"A1","amount":null}` + "\n" + `{"order_id":"A3"}` + "\n" + `{"order_id":" A4 ","amount":" 4 ","metadata":{"a":"b"}}`,
	} {
		f.Add([]byte(s), true)
	}
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(mr.Close)
	f.Fuzz(func(t *testing.T, data []byte, jsonl bool) {
		format := CSV
		if jsonl {
			format = JSONL
		}
		mr.FlushAll()
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
		defer rdb.Close()
		p := producer.NewFromClient(rdb, producer.WithSource("import"))
		ctx := context.Background()
		pl, err := Check(ctx, Bytes(data), CheckOptions{Format: format})
		if err != nil {
			if !IsInputError(err) {
				t.Fatalf("Check: %v", err)
			}
			return
		}
		res, err := pl.Run(ctx, p, RunOptions{OnReject: func(producer.RowError) error { return nil }})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		recs := stored(t, rdb)
		if len(recs) != res.Accepted {
			t.Fatalf("%d records for %d accepted rows", len(recs), res.Accepted)
		}
		checkEveryRefundHasItsRow(t, format, data, recs)
		if format == CSV {
			checkAgainstEncodingCSV(t, data, recs)
		}
		variant, ok := invisiblyChanged(format, data)
		if !ok {
			return
		}
		pl2, err := Check(ctx, Bytes(variant), CheckOptions{Format: format})
		if err != nil {
			t.Fatalf("the changed input %q: %v", variant, err)
		}
		again, err := pl2.Run(ctx, p, RunOptions{OnReject: func(producer.RowError) error { return nil }})
		if err != nil {
			t.Fatalf("Run on the changed input: %v", err)
		}
		if again.Accepted != 0 || pl2.BatchID != pl.BatchID || len(stored(t, rdb)) != len(recs) {
			t.Fatalf("input %q\nchanged to %q\nenqueued %d more (batch %s, was %s)", data, variant, again.Accepted, pl2.BatchID, pl.BatchID)
		}
	})
}

func stored(t *testing.T, rdb *redis.Client) map[string]*refund.Record {
	t.Helper()
	keys, err := rdb.Keys(context.Background(), "refundq:{*}").Result()
	if err != nil {
		t.Fatal(err)
	}
	s := store.New(rdb)
	out := map[string]*refund.Record{}
	for _, k := range keys {
		if strings.HasSuffix(k, "}") {
			id := strings.TrimSuffix(strings.TrimPrefix(k, "refundq:{"), "}")
			rec, err := s.Get(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			out[id] = rec
		}
	}
	return out
}

// checkEveryRefundHasItsRow is promise 1, with the intake's own reader.
func checkEveryRefundHasItsRow(t *testing.T, f Format, data []byte, recs map[string]*refund.Record) {
	rows := readRows(t, f, data)
	for id, rec := range recs {
		i := slices.IndexFunc(rows, func(r Row) bool { return r.Errors() == nil && producer.BatchRowID(producer.Refund(r.Request)) == id })
		if i < 0 {
			t.Fatalf("refund %+v comes from no valid row of %q", rec.Request, data)
		}
		row := rows[i]
		if rec.Amount == "" && !strings.Contains(strings.ToLower(row.Raw), "full") && len(row.Raw) < maxRaw {
			t.Fatalf("full refund from row %q, which does not say full", row.Raw)
		}
		if len(row.Raw) >= maxRaw {
			continue // truncated: cannot be read again on its own
		}
		alone := row.Raw
		if f == CSV {
			alone = headerLine(data) + "\n" + row.Raw
		}
		again := readRows(t, f, []byte(alone))
		if len(again) != 1 || again[0].Errors() != nil || producer.BatchRowID(producer.Refund(again[0].Request)) != id {
			t.Fatalf("row %q of %q does not read again alone as the refund %s: %+v", row.Raw, data, id, again)
		}
	}
}

func readRows(t *testing.T, f Format, data []byte) []Row {
	t.Helper()
	rd, _, err := newReader(context.Background(), bytes.NewReader(data), f, "")
	if err != nil {
		t.Fatalf("open %q again: %v", data, err)
	}
	var rows []Row
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return rows
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
}

// headerLine is the first non-blank line, the header of a CSV file that
// Check accepted.
func headerLine(data []byte) string {
	for _, l := range strings.Split(strings.TrimPrefix(string(data), bom), "\n") {
		if trim(l) != "" {
			return strings.TrimSuffix(l, "\r")
		}
	}
	return ""
}

// checkAgainstEncodingCSV reads the input with encoding/csv and the rules
// of the format written out again here (known columns, trimmed values, a
// full refund only as "full", a repeated keyless row rejected), and
// requires exactly its valid rows to be enqueued.
func checkAgainstEncodingCSV(t *testing.T, data []byte, recs map[string]*refund.Record) {
	records, ok := readCSV(data)
	if !ok {
		return
	}
	cols := make([]string, len(records[0]))
	for i, h := range records[0] {
		cols[i] = strings.ToLower(trim(h))
	}
	want := map[string]bool{}
	for _, rec := range records[1:] {
		r, ok := referenceRow(cols, rec)
		if !ok {
			continue
		}
		want[producer.BatchRowID(producer.Refund(r))] = true
	}
	for id := range recs {
		if !want[id] {
			t.Fatalf("input %q: refund %s is not a valid row to encoding/csv", data, id)
		}
	}
	// Of rows sharing a request_id the first is written and the others
	// are repeats or conflicts, so every id is there.
	for id := range want {
		if _, ok := recs[id]; !ok {
			t.Fatalf("input %q: the valid row %s was not enqueued", data, id)
		}
	}
}

func readCSV(data []byte) ([][]string, bool) {
	if bytes.ContainsAny(data, "\r\x00") || !isUTF8(data) {
		return nil, false
	}
	text := strings.TrimPrefix(string(data), bom)
	for _, comma := range []rune{',', ';'} {
		r := csv.NewReader(strings.NewReader(text))
		r.Comma, r.FieldsPerRecord = comma, -1
		records, err := r.ReadAll()
		for err == nil && len(records) > 0 && blank(records[0]) {
			records = records[1:] // blank lines before the header
		}
		if err != nil || len(records) == 0 || pickDelimiter([]byte(headerLine(data))) != byte(comma) {
			continue
		}
		return records, true
	}
	return nil, false
}

func referenceRow(cols, rec []string) (refund.Request, bool) {
	if len(rec) != len(cols) || blank(rec) {
		return refund.Request{}, false
	}
	var r refund.Request
	header := true
	for i, c := range cols {
		v := trim(rec[i])
		header = header && strings.ToLower(v) == c
		switch c {
		case "amount":
			switch {
			case v == "":
				return r, false
			case strings.EqualFold(v, "full"):
			default:
				r.Amount = v
			}
		default:
			*stringField(&r, c) = v
		}
	}
	return r, !header && producer.CheckBatchRow(0, producer.Refund(r)) == nil
}

func isUTF8(b []byte) bool { return strings.ToValidUTF8(string(b), "\ufffd") == string(b) }

// invisiblyChanged writes the same content differently: CRLF line ends, a
// BOM, every CSV cell quoted and padded with a space and the columns in
// reverse order; JSONL keys in reverse order with spaces around them.
func invisiblyChanged(f Format, data []byte) ([]byte, bool) {
	if f == CSV {
		records, ok := readCSV(data)
		if !ok {
			return nil, false
		}
		var b strings.Builder
		b.WriteString(bom)
		for _, rec := range records {
			if len(rec) != len(records[0]) {
				return nil, false // reversing a short row would move its values
			}
			cells := make([]string, len(rec))
			for i, v := range rec {
				cells[len(rec)-1-i] = `" ` + strings.ReplaceAll(v, `"`, `""`) + ` "`
			}
			b.WriteString(strings.Join(cells, string(pickDelimiter([]byte(headerLine(data))))) + "\r\n")
		}
		return []byte(b.String()), true
	}
	var b strings.Builder
	b.WriteString(bom)
	for _, line := range strings.Split(strings.TrimPrefix(string(data), bom), "\n") {
		line = strings.TrimRight(line, " \t\r")
		if line == "" {
			b.WriteString("\r\n")
			continue
		}
		members, ok := jsonMembers(line)
		if !ok {
			return nil, false
		}
		slices.Reverse(members)
		b.WriteString("{ " + strings.Join(members, " , ") + " }\r\n")
	}
	return []byte(b.String()), true
}

// jsonMembers splits a JSONL line that is one clean object into its
// members as written.
func jsonMembers(line string) ([]string, bool) {
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') || !isUTF8([]byte(line)) {
		return nil, false
	}
	var out []string
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		var raw json.RawMessage
		if err != nil || !ok || dec.Decode(&raw) != nil {
			return nil, false
		}
		k, _ := json.Marshal(key)
		out = append(out, string(k)+" : "+string(raw))
	}
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false
	}
	return out, true
}
