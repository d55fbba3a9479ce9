package importer_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/importer"
	"github.com/refundq/refundq/internal/intake"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
)

// corpus is testdata/hostile: files made to break the importer, each with
// a .want file saying what must happen. The API test runs the same files
// through POST /v1/batches.
const corpus = "testdata/hostile"

// want is a parsed .want file:
//
//	# what the file is about (its first line)
//	refused TEXT            the whole file is refused with TEXT; nothing is written
//	after FILE              FILE is imported first, into the same Redis
//	same-batch              the batch id is FILE's
//	accepted|duplicates|rejected N
//	full N                  N of the refunds are full refunds
//	reject LINE FIELD TEXT  a problem at LINE with FIELD, its reason containing TEXT (in order)
//	rejects-safe            the rejects file has no control bytes, bad UTF-8 or formulas
type want struct {
	about, refused, after string
	sameBatch, safe       bool
	counts                map[string]int
	rejects               []string
}

func readWant(t *testing.T, path string) want {
	t.Helper()
	f, err := os.Open(path)
	testenv.Must(t, err)
	defer f.Close()
	w := want{counts: map[string]int{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		verb, rest, _ := strings.Cut(sc.Text(), " ")
		switch verb {
		case "#":
			w.about = rest
		case "refused":
			w.refused = rest
		case "after":
			w.after = rest
		case "same-batch":
			w.sameBatch = true
		case "rejects-safe":
			w.safe = true
		case "reject":
			w.rejects = append(w.rejects, rest)
		default:
			n, err := strconv.Atoi(rest)
			if err != nil {
				t.Fatalf("%s: bad line %q", path, sc.Text())
			}
			w.counts[verb] = n
		}
	}
	return w
}

// corpusFiles lists the hostile files.
func corpusFiles(t *testing.T) []string {
	t.Helper()
	wants, err := filepath.Glob(filepath.Join(corpus, "*.want"))
	testenv.Must(t, err)
	if len(wants) < 20 {
		t.Fatalf("only %d files in %s", len(wants), corpus)
	}
	files := make([]string, len(wants))
	for i, w := range wants {
		files[i] = strings.TrimSuffix(w, ".want")
	}
	return files
}

func TestHostileCorpus(t *testing.T) {
	rdb := testenv.StartRedis(t).Client()
	for _, file := range corpusFiles(t) {
		name := filepath.Base(file)
		w := readWant(t, file+".want")
		t.Run(name, func(t *testing.T) {
			t.Logf("%s", w.about)
			testenv.Must(t, rdb.FlushAll(context.Background()).Err())
			p := producer.NewFromClient(rdb, producer.WithSource("import"))
			var first importer.Result
			if w.after != "" {
				var err error
				first, err = importer.Run(context.Background(), p, importer.Options{Path: filepath.Join(corpus, w.after)})
				testenv.Must(t, err)
			}
			before := keys(t, rdb)
			rejects := filepath.Join(t.TempDir(), "rejects.csv")
			res, err := importer.Run(context.Background(), p, importer.Options{Path: file, RejectsPath: rejects})
			if w.refused != "" {
				if !intake.IsInputError(err) || !strings.Contains(err.Error(), w.refused) {
					t.Fatalf("err = %v, want the file refused with %q", err, w.refused)
				}
				if n := keys(t, rdb); n != before {
					t.Fatalf("a refused file changed Redis: %d keys, then %d", before, n)
				}
				if _, err := os.Stat(rejects); !os.IsNotExist(err) {
					t.Errorf("a refused file left a rejects file: %v", err)
				}
				return
			}
			testenv.Must(t, err)
			checkCounts(t, w, res, first, rdb)
			checkRejects(t, w, rejects)
		})
	}
}

func keys(t *testing.T, rdb *redis.Client) int {
	t.Helper()
	n, err := rdb.DBSize(context.Background()).Result()
	testenv.Must(t, err)
	return int(n)
}

func checkCounts(t *testing.T, w want, res, first importer.Result, rdb *redis.Client) {
	t.Helper()
	got := map[string]int{"accepted": res.Accepted, "duplicates": res.Duplicates, "rejected": res.Rejected}
	for k, n := range w.counts {
		if k != "full" && got[k] != n {
			t.Errorf("%s %d, want %d (result %+v)", k, got[k], n, res.BatchReport)
		}
	}
	if w.sameBatch && res.BatchID != first.BatchID {
		t.Errorf("batch %s, want %s, the batch of %s", res.BatchID, first.BatchID, w.after)
	}
	if n, ok := w.counts["full"]; ok {
		if full := fullRefunds(t, rdb, res.BatchID); full != n {
			t.Errorf("%d full refunds, want %d", full, n)
		}
	}
}

func fullRefunds(t *testing.T, rdb *redis.Client, batch string) int {
	t.Helper()
	s := store.New(rdb)
	ids, err := s.ByBatch(context.Background(), batch)
	testenv.Must(t, err)
	recs, err := s.GetMany(context.Background(), ids)
	testenv.Must(t, err)
	n := 0
	for _, r := range recs {
		if r.Amount == "" {
			n++
		}
	}
	return n
}

// checkRejects checks the rejects file: every problem expected, in
// order, each with the row's text, and spreadsheet-safe when asked.
func checkRejects(t *testing.T, w want, path string) {
	t.Helper()
	if w.counts["rejected"] == 0 {
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("a clean import left a rejects file: %v", err)
		}
		return
	}
	b, err := os.ReadFile(path)
	testenv.Must(t, err)
	rows, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	testenv.Must(t, err)
	if !slices.Equal(rows[0], []string{"line", "field", "reason", "raw"}) {
		t.Fatalf("rejects header %v", rows[0])
	}
	next := 0
	for _, r := range rows[1:] {
		if r[3] == "" {
			t.Errorf("reject %v has no raw text", r)
		}
		if next < len(w.rejects) && matches(r, w.rejects[next]) {
			next++
		}
	}
	if next < len(w.rejects) {
		t.Errorf("rejects file lacks %q (in order); it has\n%s", w.rejects[next], b)
	}
	if w.safe {
		checkSpreadsheetSafe(t, b, rows)
	}
}

func matches(row []string, want string) bool {
	f := strings.SplitN(want, " ", 3)
	if len(f) < 2 || row[0] != f[0] || row[1] != f[1] {
		return false
	}
	return len(f) < 3 || strings.Contains(row[2], f[2])
}

func checkSpreadsheetSafe(t *testing.T, b []byte, rows [][]string) {
	t.Helper()
	if !utf8.Valid(b) {
		t.Error("the rejects file is not valid UTF-8")
	}
	for _, r := range string(b) {
		if r != '\n' && r != ' ' && !unicode.IsPrint(r) {
			t.Errorf("the rejects file holds %U", r)
		}
	}
	for _, row := range rows[1:] {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("cell %q would run as a formula", cell)
			}
		}
	}
	if !strings.Contains(string(b), `\x00`) || !strings.Contains(string(b), `\x1b[31m`) || !strings.Contains(string(b), `\u202e`) {
		t.Errorf("control characters are not shown as escapes:\n%s", b)
	}
}

// Fixing one rejected row and running the file again adds exactly that
// row, whatever else was done to the file.
func TestFixingARowAddsExactlyThatRow(t *testing.T) {
	rdb := testenv.StartRedis(t).Client()
	p := producer.NewFromClient(rdb)
	dir := t.TempDir()
	path := filepath.Join(dir, "march.csv")
	var b strings.Builder
	b.WriteString("order_id,amount,description\n")
	for i := 1; i <= 500; i++ {
		amount := "1.00"
		if i == 250 {
			amount = "1,00"
		}
		fmt.Fprintf(&b, "order-%04d,%q,row %d\n", i, amount, i)
	}
	testenv.Must(t, os.WriteFile(path, []byte(b.String()), 0o600))
	res, err := importer.Run(context.Background(), p, importer.Options{Path: path})
	testenv.Must(t, err)
	if res.Accepted != 499 || res.Rejected != 1 {
		t.Fatalf("first run %+v", res.BatchReport)
	}
	// Re-saved by a spreadsheet with the row fixed: CRLF, a BOM.
	fixed := "\ufeff" + strings.ReplaceAll(strings.Replace(b.String(), `"1,00"`, `"1.00"`, 1), "\n", "\r\n")
	testenv.Must(t, os.WriteFile(path, []byte(fixed), 0o600))
	again, err := importer.Run(context.Background(), p, importer.Options{Path: path, BatchID: res.BatchID})
	testenv.Must(t, err)
	if again.Accepted != 1 || again.Duplicates != 499 {
		t.Fatalf("re-run %+v, want only the fixed row new", again.BatchReport)
	}
	s := store.New(rdb)
	if n, _ := s.BatchSize(context.Background(), res.BatchID); n != 500 {
		t.Errorf("batch holds %d refunds, want 500", n)
	}
	ids, err := s.ByOrder(context.Background(), refund.DefaultMerchant, "order-0250")
	if err != nil || len(ids) != 1 {
		t.Errorf("order-0250 has refunds %v (%v)", ids, err)
	}
}
